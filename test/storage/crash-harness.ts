// The kill -9 crash loop shared by crash.test.ts (bounded, in the suite) and crash-soak.ts (long
// runs): a child appends entries and prints each acknowledgement; the parent kills it with
// SIGKILL at a random moment, reopens the data dir itself (taking over the dead child's lock) and
// checks that every acknowledged entry is present, in order, with the right content.
import { join } from 'node:path';
import { fileStorage } from '../../src/storage/index.ts';
import { killHard, startChild, type Child } from './child-process.ts';
import { CHILD_SEGMENT_BYTES, snapshotData, termOf } from './crash-child.ts';
import { entryData, prng, sameBytes } from './helpers.ts';

export interface CrashRunOptions {
  readonly dir: string;
  readonly cycles: number;
  readonly seed: number;
  /** Longest time a child runs before it is killed. */
  readonly maxRunMs: number;
  /** Independent data dirs crashed in parallel (process start dominates a cycle). @default 2 */
  readonly lanes?: number;
  readonly log?: (line: string) => void;
}

export interface CrashRunResult {
  readonly cycles: number;
  readonly acked: number;
  readonly lastIndex: number;
  readonly tornTails: number;
}

/** Runs the loop on `lanes` dirs at once; throws with the cycle and seed on the first lost or wrong entry. */
export async function runCrashLoop(o: CrashRunOptions): Promise<CrashRunResult> {
  const lanes = Math.max(1, Math.min(o.lanes ?? 2, o.cycles));
  const results = await Promise.all(
    Array.from({ length: lanes }, (_, k) =>
      runLane({ ...o, dir: join(o.dir, `lane-${k}`), seed: o.seed + k * 100_003, cycles: Math.floor(o.cycles / lanes) + (k < o.cycles % lanes ? 1 : 0) }),
    ),
  );
  return {
    cycles: results.reduce((n, r) => n + r.cycles, 0),
    acked: results.reduce((n, r) => n + r.acked, 0),
    lastIndex: Math.max(...results.map((r) => r.lastIndex)),
    tornTails: results.reduce((n, r) => n + r.tornTails, 0),
  };
}

async function runLane(o: CrashRunOptions): Promise<CrashRunResult> {
  const rnd = prng(o.seed);
  let maxAcked = 0;
  let tornTails = 0;
  let lastIndex = 0;
  // The next child is started while the current one runs: it boots and waits for "go", so a
  // cycle does not pay a whole process start.
  let next: Child | undefined = startChild(['append', o.dir, String(o.seed + 1)]);
  try {
    for (let cycle = 1; cycle <= o.cycles; cycle++) {
      const child: Child = next ?? startChild(['append', o.dir, String(o.seed + cycle)]);
      next = undefined;
      try {
        child.proc.stdin.write('go\n');
        const ready = await child.waitFor(/^ready /, 30_000);
        if (cycle < o.cycles) next = startChild(['append', o.dir, String(o.seed + cycle + 1)]);
        const childLast = Number(ready.split(' ')[2]);
        if (childLast < maxAcked) throw new Error(`cycle ${cycle}: child recovered to ${childLast} < acknowledged ${maxAcked}`);
        await new Promise((r) => setTimeout(r, Math.floor(rnd() * o.maxRunMs)));
      } finally {
        await killHard(child);
      }
      for (const line of child.lines) {
        const m = /^ack (\d+)$/.exec(line);
        if (m !== null) maxAcked = Math.max(maxAcked, Number(m[1]));
      }
      const r = await reopenAndVerify(o, maxAcked, cycle);
      lastIndex = r.lastIndex;
      if (r.torn) tornTails++;
      o.log?.(`${o.dir} cycle ${cycle}: acked ${maxAcked}, recovered ${lastIndex}`);
    }
  } finally {
    if (next !== undefined) await killHard(next);
  }
  return { cycles: o.cycles, acked: maxAcked, lastIndex, tornTails };
}

/** Opens the dir in this process (taking over the dead child's lock) and checks it. */
async function reopenAndVerify(o: CrashRunOptions, maxAcked: number, cycle: number): Promise<{ lastIndex: number; torn: boolean }> {
  const warnings: string[] = [];
  const s = fileStorage(o.dir, { segmentBytes: CHILD_SEGMENT_BYTES, logger: { info: () => undefined, warn: (_o, msg) => void warnings.push(msg) } });
  await s.open();
  try {
    await verify(s, maxAcked, cycle, o.seed);
    return { lastIndex: s.lastIndex(), torn: warnings.some((w) => w.includes('torn')) };
  } finally {
    await s.close();
  }
}

async function verify(s: ReturnType<typeof fileStorage>, maxAcked: number, cycle: number, seed: number): Promise<void> {
  const where = `cycle ${cycle} (seed ${seed})`;
  const last = s.lastIndex();
  if (last < maxAcked) throw new Error(`${where}: lost acknowledged entries: last index ${last} < acknowledged ${maxAcked}`);
  const snap = await s.loadSnapshot();
  if (snap.meta.index > 0 && !sameBytes(snap.data, snapshotData(snap.meta.index))) throw new Error(`${where}: snapshot ${snap.meta.index} content differs`);
  const first = s.firstIndex();
  const got = s.entries(first, last + 1, Number.MAX_SAFE_INTEGER);
  if (got.length !== last - first + 1) throw new Error(`${where}: entries() returned ${got.length}, expected ${last - first + 1}`);
  got.forEach((e, k) => {
    const index = first + k;
    if (e.index !== index || e.term !== termOf(index) || !sameBytes(e.data, entryData(index, termOf(index)))) {
      throw new Error(`${where}: entry ${index} is wrong (index ${e.index}, term ${e.term})`);
    }
  });
}
