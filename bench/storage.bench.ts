// Durable append benchmark for fileStorage: latency and throughput of save() for 256-byte
// entries at batch sizes 1, 16 and 256, next to raw `write + fdatasync` loops measured in the
// same run on the same file system (os.tmpdir()), interleaved in rounds so background load hits
// every subject alike. Reports medians (and p99) of per-call latency; throughput = batch / median.
// Also measures the CPU of a batch-256 save into tmpfs (no disk: encoding, CRC, bookkeeping), and
// CRC-32C slicing-by-16 against a byte-at-a-time table loop.
//   npm run bench:storage            (QKV_BENCH_SCALE=0.2 for a quick run)
//   QKV_BENCH_CPU_ONLY=1 QKV_BENCH_SAVES=<n> npm run bench:storage   only the CPU part, n saves
//     (instructions per save, load-independent: run it under `valgrind --tool=callgrind
//     --smc-check=all-non-file node --single-threaded --import tsx bench/storage.bench.ts` for two
//     values of n and divide the difference of the instruction counts by the difference of n)
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../src/storage/crc32c.ts';
import { fileStorage } from '../src/storage/index.ts';
import type { Entry } from '../src/protocol/types.ts';
import { median, percentileOfSorted, sorted } from './stats.ts';

const SCALE = Number(process.env.QKV_BENCH_SCALE ?? 1);
const ENTRY_BYTES = 256;
const quiet = { info: () => undefined, warn: () => undefined };

interface Stats {
  readonly medianUs: number;
  readonly p99Us: number;
  readonly n: number;
  readonly totalMs: number;
}

function stats(samplesNs: number[], totalMs: number): Stats {
  // totalMs is unused by the interleaved runner (kept for the row format).
  const s = sorted(samplesNs);
  return { medianUs: percentileOfSorted(s, 50) / 1000, p99Us: percentileOfSorted(s, 99) / 1000, n: s.length, totalMs };
}

/** A measured loop body; `collect` receives one latency sample (ns) per call. */
type Body = () => Promise<void> | void;

async function sample(body: Body, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await body();
    into.push(Number(process.hrtime.bigint() - t));
  }
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
}

function writeAsync(fd: number, buf: Buffer, pos: number | null): Promise<void> {
  return new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, pos, (e) => (e ? rej(e) : res())));
}

interface Subject {
  readonly name: string;
  readonly entriesPerCall: number;
  readonly body: Body;
  readonly perRound: number;
  readonly samples: number[];
  close(): Promise<void> | void;
}

function rawSubjects(dir: string, bytes: number, perRound: number): Subject[] {
  const buf = Buffer.alloc(bytes, 0xab);
  const syncFd = fs.openSync(join(dir, 'raw-sync'), 'a');
  const asyncFd = fs.openSync(join(dir, 'raw-async'), 'a');
  const preFd = fs.openSync(join(dir, 'raw-prealloc'), 'w');
  fs.ftruncateSync(preFd, 256 * 1024 * 1024);
  fs.fsyncSync(preFd);
  let pos = 0;
  const mk = (name: string, fd: number, body: Body): Subject => ({ name, entriesPerCall: 1, body, perRound, samples: [], close: () => fs.closeSync(fd) });
  return [
    mk('raw writeSync+fdatasyncSync (append)', syncFd, () => {
      fs.writeSync(syncFd, buf);
      fs.fdatasyncSync(syncFd);
    }),
    mk('raw fs.write+fs.fdatasync (append)', asyncFd, async () => {
      await writeAsync(asyncFd, buf, null);
      await fdatasyncAsync(asyncFd);
    }),
    mk('raw fs.write+fs.fdatasync (preallocated)', preFd, async () => {
      await writeAsync(preFd, buf, pos);
      pos += buf.length;
      await fdatasyncAsync(preFd);
    }),
  ];
}

/**
 * Three members of a test cluster on one machine share its disk: three write + fdatasync calls
 * on three preallocated files at once, one sample per round of three. This is the floor of a
 * put's latency in bench/cluster.ts (a put needs the leader's and a follower's fsync, and the
 * third member syncs at the same moment), not a figure of one member.
 */
function concurrentRawSubject(dir: string, bytes: number, perRound: number): Subject {
  const buf = Buffer.alloc(bytes, 0xab);
  const fds = [0, 1, 2].map((i) => {
    const fd = fs.openSync(join(dir, `raw-concurrent-${i}`), 'w');
    fs.ftruncateSync(fd, 64 * 1024 * 1024);
    fs.fsyncSync(fd);
    return fd;
  });
  let pos = 0;
  const body: Body = async () => {
    const at = pos;
    pos += buf.length;
    await Promise.all(fds.map(async (fd) => {
      await writeAsync(fd, buf, at);
      await fdatasyncAsync(fd);
    }));
  };
  return { name: 'raw fs.write+fs.fdatasync on 3 files at once (3 members, one disk)', entriesPerCall: 1, body, perRound, samples: [], close: () => fds.forEach((fd) => fs.closeSync(fd)) };
}

async function storageSubject(dir: string, batch: number, perRound: number): Promise<Subject> {
  const s = fileStorage(dir, { logger: quiet });
  await s.open();
  const data = Buffer.alloc(ENTRY_BYTES, 0x5a);
  let next = 1;
  const body = async (): Promise<void> => {
    const entries: Entry[] = new Array<Entry>(batch);
    for (let k = 0; k < batch; k++) entries[k] = { term: 1, index: next + k, type: 'normal', data };
    next += batch;
    await s.save({ entries, hardState: { term: 1, vote: 'n1', commit: next - 1 } });
  };
  return { name: `fileStorage.save batch ${batch}`, entriesPerCall: batch, body, perRound, samples: [], close: () => s.close() };
}

function crcBench(): { slicing16MBps: number; bytewiseMBps: number } {
  const buf = Buffer.alloc(1 << 20);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  const bytewise = (b: Uint8Array): number => {
    let c = 0xffffffff;
    for (let i = 0; i < b.length; i++) c = (table[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
    return ~c >>> 0;
  };
  const mbps = (fn: (b: Uint8Array) => number): number => {
    const runs: number[] = [];
    for (let r = 0; r < 9; r++) {
      const t = performance.now();
      for (let i = 0; i < 20; i++) fn(buf);
      runs.push(20 / ((performance.now() - t) / 1000));
    }
    return median(runs);
  };
  if (bytewise(buf) !== crc32c(buf)) throw new Error('crc mismatch');
  return { slicing16MBps: mbps((b) => crc32c(b)), bytewiseMBps: mbps(bytewise) };
}

/** CPU time (user + system, all threads) per batch-256 save into tmpfs: rounds of saves, median. */
async function cpuPerSave(saves: number): Promise<{ medianUs: number; rounds: number }> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = fs.mkdtempSync(join(base, 'qkv-bench-cpu-'));
  try {
    const sub = await storageSubject(dir, 256, 0);
    const rounds = 9;
    const perRound = Math.max(1, Math.floor(saves / rounds));
    const runs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < perRound; i++) await sub.body();
      const c = process.cpuUsage(c0);
      runs.push((c.user + c.system) / perRound);
    }
    await sub.close();
    return { medianUs: median(runs), rounds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function row(sub: Subject, st: Stats): string {
  const perSec = (sub.entriesPerCall * 1e6) / st.medianUs;
  return `${sub.name.padEnd(44)} median ${st.medianUs.toFixed(1).padStart(8)} µs  p99 ${st.p99Us.toFixed(1).padStart(8)} µs  n ${String(st.n).padStart(5)}  ${Math.round(perSec).toLocaleString('en-US').padStart(10)} entries/s at the median`;
}

async function main(): Promise<void> {
  if (process.env.QKV_BENCH_CPU_ONLY === '1') {
    const saves = Number(process.env.QKV_BENCH_SAVES ?? 1000);
    const cpu = await cpuPerSave(saves);
    console.log(`batch 256 into tmpfs: ${cpu.medianUs.toFixed(1)} µs CPU per save (median of ${cpu.rounds} rounds, ${saves} saves)`);
    return;
  }
  const root = fs.mkdtempSync(join(tmpdir(), 'qkv-bench-storage-'));
  const rounds = Math.max(4, Math.round(20 * SCALE));
  try {
    console.log(`storage bench: ${ENTRY_BYTES}-byte entries, dir ${root}, node ${process.version}, ${rounds} interleaved rounds`);
    // One save of one entry is a ~300-byte record: the raw loops write that much per call.
    // Subjects run interleaved, round after round, so a noisy neighbour hits all of them alike.
    const subjects: Subject[] = [
      ...rawSubjects(root, ENTRY_BYTES + 40, 100),
      await storageSubject(join(root, 'wal-1'), 1, 100),
      await storageSubject(join(root, 'wal-16'), 16, 50),
      await storageSubject(join(root, 'wal-256'), 256, 15),
      concurrentRawSubject(root, ENTRY_BYTES + 40, 50),
    ];
    for (const sub of subjects) await sample(sub.body, 20, []); // warm-up
    for (let r = 0; r < rounds; r++) for (const sub of subjects) await sample(sub.body, sub.perRound, sub.samples);
    const st = new Map(subjects.map((sub) => [sub.name, stats(sub.samples, 0)]));
    for (const sub of subjects) console.log(row(sub, st.get(sub.name) as Stats));
    const single = st.get('fileStorage.save batch 1') as Stats;
    for (const sub of subjects.slice(0, 3)) {
      console.log(`single-entry save / ${sub.name}: ${(single.medianUs / (st.get(sub.name) as Stats).medianUs).toFixed(2)}×  (target ≤ 1.3×)`);
    }
    const b256 = st.get('fileStorage.save batch 256') as Stats;
    console.log(`batch 256 durable throughput at the median: ${Math.round((256 * 1e6) / b256.medianUs).toLocaleString('en-US')} entries/s (target ≥ 200,000)`);
    for (const sub of subjects) await sub.close();
    const cpu = await cpuPerSave(Math.round(1000 * SCALE));
    console.log(`batch 256 into tmpfs (no disk): ${cpu.medianUs.toFixed(1)} µs CPU per save, median of ${cpu.rounds} rounds`);
    const crc = crcBench();
    console.log(`crc32c slicing-by-16 ${crc.slicing16MBps.toFixed(0)} MB/s vs byte-at-a-time ${crc.bytewiseMBps.toFixed(0)} MB/s (${(crc.slicing16MBps / crc.bytewiseMBps).toFixed(1)}×)`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
