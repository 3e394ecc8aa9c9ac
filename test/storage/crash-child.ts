// Child process for the crash and lock tests (not a test itself). Modes:
//   append <dir> <seed>  wait for a "go" line on stdin (so the parent can start the next child
//                        while the previous one still runs), open fileStorage(dir), print
//                        "ready <first> <last>", then append entries
//                        forever, printing "ack <lastIndex>" after each save resolves (durable);
//                        every ~300 entries it also makes a snapshot and compacts.
//   hold <dir>           open fileStorage(dir), print "ready", wait to be killed.
//   probe <dir>          try to open fileStorage(dir); print "opened" or "error <code>"; exit.
// Entry content is a pure function of the index (see expectedEntry), so the parent can check it.
import { fileStorage } from '../../src/storage/index.ts';
import { isQuorumError } from '../../src/errors.ts';
import { entryData, prng } from './helpers.ts';

export const CHILD_SEGMENT_BYTES = 64 * 1024;
export const SNAPSHOT_EVERY = 300;

export function termOf(index: number): number {
  return 1 + Math.floor(index / 1000);
}

export function snapshotData(index: number): Uint8Array {
  return Buffer.from(`snapshot at ${index}`);
}

const quiet = { info: () => undefined, warn: () => undefined };

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      if (!text.includes('go\n')) return;
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve();
    };
    process.stdin.on('data', onData);
  });
}

async function append(dir: string, seed: number): Promise<void> {
  await waitForGo();
  const s = fileStorage(dir, { segmentBytes: CHILD_SEGMENT_BYTES, logger: quiet });
  await s.open();
  process.stdout.write(`ready ${s.firstIndex()} ${s.lastIndex()}\n`);
  const rnd = prng(seed);
  let last = s.lastIndex();
  let lastSnapshot = s.snapshot().meta.index;
  for (;;) {
    const n = 1 + Math.floor(rnd() * 8);
    const batch = Array.from({ length: n }, (_, k) => {
      const index = last + 1 + k;
      return { index, term: termOf(index), type: 'normal' as const, data: entryData(index, termOf(index)) };
    });
    last += n;
    await s.save({ entries: batch, hardState: { term: termOf(last), vote: '', commit: last } });
    process.stdout.write(`ack ${last}\n`);
    if (last - lastSnapshot >= SNAPSHOT_EVERY) {
      const at = last - 50;
      await s.createSnapshot(at, { voters: ['c'], learners: [] }, snapshotData(at));
      await s.compact(at + 1);
      lastSnapshot = at;
    }
  }
}

async function main(): Promise<void> {
  const [mode, dir, seed] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: crash-child <append|hold|probe> <dir> [seed]');
  if (mode === 'append') return append(dir, Number(seed ?? 1));
  const s = fileStorage(dir, { logger: quiet });
  if (mode === 'hold') {
    await s.open();
    process.stdout.write('ready\n');
    setInterval(() => undefined, 1 << 30);
    return;
  }
  try {
    await s.open();
    process.stdout.write('opened\n');
    await s.close();
  } catch (err) {
    process.stdout.write(`error ${isQuorumError(err) ? err.code : String(err)}\n`);
  }
}

if (process.argv[1] !== undefined && /crash-child\.(ts|mjs)$/.test(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(`crash-child: ${String(err)}\n`);
    process.exit(2);
  });
}
