// Proves that damage to closed WAL segments and snapshots is always detected and never served:
// a golden data dir (many small segments, an overwritten suffix, snapshots, compaction) is
// copied for each trial, one file gets random bit flips or is truncated at a random offset, and
// the dir is reopened. Required outcome: a CorruptionError — or, only when bit flips lie in the
// last record of the last segment (or in its unused, zeroed space), a successful open that cut
// that torn tail (a truncated file is always corruption: a crash never shrinks a preallocated
// segment). Whatever opens must serve exactly what was written (a prefix of the
// acknowledged log, same snapshot). Seeded: SEED=<n> replays; QKV_CORRUPTION_TRIALS=<n> runs more;
// QKV_CORRUPTION_TAIL=1 aims every trial at bit flips in the live segment.
// A trial that once failed (seed 2991405555, trial 657) is replayed by hand as a regression.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptionError } from '../../src/errors.ts';
import type { Entry } from '../../src/protocol/types.ts';
import { fileStorage } from '../../src/storage/index.ts';
import { readFrame } from '../../src/storage/record-codec.ts';
import type { Storage } from '../../src/storage/types.ts';
import { entry, prng, quietLogger, rejects, removeDir, sameBytes, seedFromEnv, tempDir } from './helpers.ts';

const TRIALS = Number(process.env.QKV_CORRUPTION_TRIALS ?? 1500);
/** QKV_CORRUPTION_TAIL=1: every trial flips bits in the live segment (where torn tails are decided). */
const TAIL_FLIPS_ONLY = process.env.QKV_CORRUPTION_TAIL === '1';
const SEGMENT_BYTES = 4096;
// tmpfs when there is one: these trials test detection logic, not the disk, and fsync there is free.
const BASE = existsSync('/dev/shm') ? '/dev/shm' : undefined;

interface Golden {
  readonly dir: string;
  readonly log: Map<number, Entry>;
  readonly lastIndex: number;
  /** Last index before the final save (what a truncated torn tail leaves). */
  readonly lastIndexBeforeTail: number;
  readonly snapshotIndex: number;
  readonly snapshotData: Uint8Array;
  readonly segments: string[];
  readonly snapshotFile: string;
  /** In the last segment: where its last record starts and where its used bytes end. */
  readonly lastRecordStart: number;
  readonly usedEnd: number;
}

async function open(dir: string): Promise<Storage> {
  const s = fileStorage(dir, { segmentBytes: SEGMENT_BYTES, logger: quietLogger() });
  await s.open();
  return s;
}

async function buildGolden(seed: number): Promise<Golden> {
  const rnd = prng(seed);
  const dir = tempDir('golden', BASE);
  const s = await open(dir);
  const log = new Map<number, Entry>();
  let last = 0;
  let term = 1;
  const append = async (from: number, n: number): Promise<void> => {
    const batch = Array.from({ length: n }, (_, k) => entry(from + k, term, 1 + Math.floor(rnd() * 400)));
    for (let i = from; i <= last; i++) log.delete(i);
    for (const e of batch) log.set(e.index, e);
    last = from + n - 1;
    await s.save({ entries: batch, hardState: { term, vote: 'n1', commit: Math.max(0, last - 10) } });
  };
  while (last < 260) {
    if (rnd() < 0.05 && last > 20) {
      term++;
      await append(last - Math.floor(rnd() * 8), 1 + Math.floor(rnd() * 5)); // conflicting suffix
    } else {
      await append(last + 1, 1 + Math.floor(rnd() * 6));
    }
    if (last >= 80 && s.snapshot().meta.index === 0) await s.createSnapshot(60, { voters: ['n1'], learners: [] }, Buffer.from('snap-60'));
    if (last >= 160 && s.snapshot().meta.index === 60) {
      await s.createSnapshot(120, { voters: ['n1', 'n2'], learners: [] }, Buffer.alloc(3000, 0x5a));
      await s.compact(121);
    }
  }
  const lastIndexBeforeTail = last;
  await append(last + 1, 3);
  await s.close();
  const segments = readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
  const snapshotFile = readdirSync(dir).filter((n) => n.endsWith('.snap')).sort().pop() ?? '';
  const tail = readFileSync(join(dir, segments[segments.length - 1] ?? ''));
  let off = 0;
  let lastRecordStart = 0;
  for (;;) {
    const r = readFrame(tail, off, tail.length, 1 << 26);
    if (r.kind !== 'ok') break;
    lastRecordStart = r.start;
    off = r.next;
  }
  return {
    dir, log, lastIndex: last, lastIndexBeforeTail, snapshotIndex: 120, snapshotData: Buffer.alloc(3000, 0x5a),
    segments, snapshotFile, lastRecordStart, usedEnd: off,
  };
}

type Region = 'closed' | 'snapshot' | 'tail-body' | 'tail-last' | 'tail-free';

interface Damage {
  readonly file: string;
  readonly kind: 'flip' | 'truncate';
  readonly region: Region;
  readonly detail: string;
  /** The damaged file content. */
  readonly bytes: Buffer;
}

/** Damages a copy of one pristine file (no I/O, so skipped trials cost next to nothing). */
function damage(g: Golden, pristine: ReadonlyMap<string, Buffer>, rnd: () => number): Damage {
  const pick = rnd();
  const tailName = g.segments[g.segments.length - 1] ?? '';
  let file: string;
  if (TAIL_FLIPS_ONLY) file = tailName;
  else if (pick < 0.45 && g.segments.length > 1) file = g.segments[Math.floor(rnd() * (g.segments.length - 1))] ?? '';
  else if (pick < 0.75) file = tailName;
  else file = g.snapshotFile;
  const bytes = Buffer.from(pristine.get(file) ?? Buffer.alloc(0));
  const isTail = file === tailName;
  // In the live segment aim at the used bytes (plus a little of the zeroed rest) most of the time.
  const span = isTail ? (rnd() < 0.9 ? g.usedEnd : bytes.length) : bytes.length;
  const regionOf = (p: number): Region =>
    !isTail ? (file === g.snapshotFile ? 'snapshot' : 'closed') : p >= g.usedEnd ? 'tail-free' : p >= g.lastRecordStart ? 'tail-last' : 'tail-body';
  if (rnd() < 0.7 || TAIL_FLIPS_ONLY) {
    const flips = 1 + Math.floor(rnd() * 3);
    let lowest = Infinity;
    const flipped = new Set<number>();
    for (let k = 0; k < flips; k++) {
      const p = Math.floor(rnd() * span);
      const bit = Math.floor(rnd() * 8);
      // The same bit flipped twice is no damage at all (SEED=2714929791 trial 1333): draw again.
      if (flipped.has(p * 8 + bit)) {
        k--;
        continue;
      }
      flipped.add(p * 8 + bit);
      bytes[p] = (bytes[p] as number) ^ (1 << bit);
      lowest = Math.min(lowest, p);
    }
    return { file, kind: 'flip', region: regionOf(lowest), detail: `${flips} bit(s), lowest at ${lowest}`, bytes };
  }
  const at = Math.floor(rnd() * span);
  return { file, kind: 'truncate', region: regionOf(at), detail: `to ${at} bytes`, bytes: bytes.subarray(0, at) };
}

/** Checks what an open storage serves against what was written; returns an error text or ''. */
async function served(s: Storage, g: Golden): Promise<string> {
  const last = s.lastIndex();
  if (last > g.lastIndex) return `last index ${last} > written ${g.lastIndex}`;
  if (s.snapshot().meta.index !== g.snapshotIndex || !sameBytes((await s.loadSnapshot!()).data, g.snapshotData)) return 'snapshot differs';
  for (const e of s.entries(s.firstIndex(), last + 1, Number.MAX_SAFE_INTEGER)) {
    const want = g.log.get(e.index);
    if (want === undefined || want.term !== e.term || want.type !== e.type || !sameBytes(want.data, e.data)) return `entry ${e.index} differs`;
  }
  return '';
}

/** Runs `trials` seeded trials; returns outcome counts. */
async function runTrials(seed: number, trials: number): Promise<Record<string, number>> {
  const g = await buildGolden(seed);
  const rnd = prng(seed ^ 0x9e3779b9);
  const counts: Record<string, number> = {};
  const trialDir = join(tempDir('trial', BASE), 'data');
  cpSync(g.dir, trialDir, { recursive: true });
  // Each trial damages one file and an open may cut the tail segment: restore both from memory
  // afterwards instead of copying the whole dir again.
  const pristine = new Map(readdirSync(g.dir).map((n) => [n, readFileSync(join(g.dir, n))]));
  const tailName = g.segments[g.segments.length - 1] ?? '';
  try {
    assert.ok(g.segments.length >= 4, `golden has ${g.segments.length} segments`);
    for (let t = 0; t < trials; t++) {
      const d = damage(g, pristine, rnd);
      writeFileSync(join(trialDir, d.file), d.bytes);
      const where = `trial ${t} (seed ${seed}): ${d.kind} ${d.file} ${d.detail} [${d.region}]`;
      let outcome: string;
      let servedLast = -1;
      try {
        const s = await open(trialDir);
        try {
          const problem = await served(s, g);
          assert.is(problem, '', where);
          const last = s.lastIndex();
          // A crash never shrinks the preallocated live segment, so every truncation is damage.
          if (d.region === 'closed' || d.region === 'snapshot' || d.region === 'tail-body' || d.kind === 'truncate') {
            assert.unreachable(`${where}: damage was not detected (served up to ${last})`);
          }
          if (d.region === 'tail-free') assert.is(last, g.lastIndex, `${where}: damage in unused space lost data`);
          if (d.region === 'tail-last') assert.ok(last === g.lastIndex || last === g.lastIndexBeforeTail, `${where}: torn tail cut to ${last}`);
          outcome = last === g.lastIndex ? 'intact' : 'truncated';
          servedLast = last;
        } finally {
          await s.close();
        }
        if (outcome === 'truncated') {
          const again = await open(trialDir); // recovery is idempotent once the tail is cut
          assert.is(await served(again, g), '', `${where}: second open`);
          assert.is(again.lastIndex(), servedLast, `${where}: second open`);
          await again.close();
        }
      } catch (err) {
        if (!(err instanceof CorruptionError)) {
          console.error(`${where}\nreplay: SEED=${seed} node --import tsx test/storage/corruption.test.ts`);
          throw err;
        }
        outcome = 'detected';
        if (process.env.QKV_DEBUG) console.log(where, err.message);
      }
      const key = `${d.region}/${d.kind}/${outcome}`;
      counts[key] = (counts[key] ?? 0) + 1;
      for (const name of new Set([d.file, tailName])) writeFileSync(join(trialDir, name), pristine.get(name) ?? Buffer.alloc(0));
      assert.equal(readdirSync(trialDir).sort(), [...pristine.keys()].sort(), `${where}: files after the trial`);
    }
    assert.ok(statSync(g.dir).isDirectory());
    return counts;
  } finally {
    removeDir(g.dir);
    removeDir(join(trialDir, '..'));
  }
}

test(`corruption: ${TRIALS} seeded trials of bit flips and truncations are detected or cut as a torn tail`, async () => {
  const seed = seedFromEnv();
  const counts = await runTrials(seed, TRIALS);
  console.log(`corruption (seed ${seed}, ${TRIALS} trials):`, JSON.stringify(counts));
});

test('regression: seed 2991405555 trial 657 (a length past the end of the file, later records hit) is detected', async () => {
  // The format-1 bug: in the live segment the first batch record's length was flipped to point
  // past the end of the file and the only later record was flipped too; format 1 cut both as
  // "a first record growing the file". The format changed the golden's offsets, so the trial
  // number no longer lands there: the same damage is made here by hand, on the same golden.
  const g = await buildGolden(2991405555);
  try {
    const tail = join(g.dir, g.segments[g.segments.length - 1] ?? '');
    const bytes = readFileSync(tail);
    const starts: number[] = [];
    for (let off = 0; ; ) {
      const r = readFrame(bytes, off, bytes.length, 1 << 26);
      if (r.kind !== 'ok') break;
      starts.push(r.start);
      off = r.next;
    }
    const first = starts[1]; // after the segment header
    assert.ok(first !== undefined && starts.length >= 3, `${starts.length} records in the live segment`);
    bytes.writeUInt32LE(bytes.readUInt32LE(first) ^ (1 << 16), first);
    for (const later of starts.slice(2)) bytes[later + 20] = (bytes[later + 20] as number) ^ 0x10;
    writeFileSync(tail, bytes);
    await rejects(open(g.dir), (e) => e instanceof CorruptionError, 'forged torn tail');
  } finally {
    removeDir(g.dir);
  }
});

test('torn writes: unwritten sectors of the last record are cut as a torn tail, and only them', async () => {
  const seed = seedFromEnv();
  const g = await buildGolden(seed);
  const rnd = prng(seed ^ 0x51ed);
  const trialDir = join(tempDir('torn', BASE), 'data');
  const tailName = g.segments[g.segments.length - 1] ?? '';
  const pristine = readFileSync(join(g.dir, tailName));
  cpSync(g.dir, trialDir, { recursive: true });
  const SECTOR = 512;
  try {
    for (let t = 0; t < 200; t++) {
      const bytes = Buffer.from(pristine);
      const firstSector = Math.floor(g.lastRecordStart / SECTOR);
      const lastSector = Math.floor((g.usedEnd - 1) / SECTOR);
      let zeroed = 0;
      for (let k = firstSector; k <= lastSector; k++) {
        if (rnd() < 0.5 || (k === lastSector && zeroed === 0)) {
          // Only the record's own bytes: the sector's earlier bytes belong to synced records.
          bytes.fill(0, Math.max(k * SECTOR, g.lastRecordStart), Math.min((k + 1) * SECTOR, g.usedEnd));
          zeroed++;
        }
      }
      writeFileSync(join(trialDir, tailName), bytes);
      const where = `torn trial ${t} (seed ${seed})`;
      const s = await open(trialDir);
      try {
        assert.is(await served(s, g), '', where);
        assert.is(s.lastIndex(), g.lastIndexBeforeTail, where);
        await s.save({ entries: [entry(g.lastIndexBeforeTail + 1, 99)] });
      } finally {
        await s.close();
      }
      const again = await open(trialDir);
      assert.is(again.lastIndex(), g.lastIndexBeforeTail + 1, `${where}: appends after the cut survive`);
      await again.close();
    }
  } finally {
    removeDir(g.dir);
    removeDir(join(trialDir, '..'));
  }
});

test.run();
