// Durable append benchmark for fileStorage: latency and throughput of save() for 256-byte
// entries at batch sizes 1, 16 and 256, next to raw `write + fdatasync` loops measured in the
// same run on the same file system (os.tmpdir()). Reports medians (and p99) of per-call latency.
// Also measures CRC-32C slicing-by-8 against a byte-at-a-time table loop.
//   npm run bench:storage            (QKV_BENCH_SCALE=0.2 for a quick run)
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '../src/storage/crc32c.ts';
import { fileStorage } from '../src/storage/index.ts';
import type { Entry } from '../src/protocol/types.ts';

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
  const s = samplesNs.slice().sort((a, b) => a - b);
  const at = (q: number): number => (s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0) / 1000;
  return { medianUs: at(0.5), p99Us: at(0.99), n: s.length, totalMs };
}

async function timeLoop(n: number, fn: (i: number) => Promise<void> | void): Promise<Stats> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(-1 - i); // warm-up
  const samples: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - t));
  }
  return stats(samples, Number(process.hrtime.bigint() - t0) / 1e6);
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
}

function writeAsync(fd: number, buf: Buffer, pos: number | null): Promise<void> {
  return new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, pos, (e) => (e ? rej(e) : res())));
}

async function rawLoops(dir: string, bytes: number, n: number): Promise<Record<string, Stats>> {
  const buf = Buffer.alloc(bytes, 0xab);
  const out: Record<string, Stats> = {};
  let fd = fs.openSync(join(dir, 'raw-sync'), 'a');
  out['raw writeSync+fdatasyncSync (append)'] = await timeLoop(n, () => {
    fs.writeSync(fd, buf);
    fs.fdatasyncSync(fd);
  });
  fs.closeSync(fd);
  fd = fs.openSync(join(dir, 'raw-async'), 'a');
  out['raw fs.write+fs.fdatasync (append)'] = await timeLoop(n, async () => {
    await writeAsync(fd, buf, null);
    await fdatasyncAsync(fd);
  });
  fs.closeSync(fd);
  fd = fs.openSync(join(dir, 'raw-prealloc'), 'w');
  fs.ftruncateSync(fd, 64 * 1024 * 1024);
  fs.fsyncSync(fd);
  let pos = 0;
  out['raw fs.write+fs.fdatasync (preallocated)'] = await timeLoop(n, async () => {
    await writeAsync(fd, buf, pos);
    pos += buf.length;
    await fdatasyncAsync(fd);
  });
  fs.closeSync(fd);
  return out;
}

async function storageLoop(dir: string, batch: number, n: number): Promise<Stats> {
  const s = fileStorage(dir, { logger: quiet });
  await s.open();
  const data = Buffer.alloc(ENTRY_BYTES, 0x5a);
  let next = 1;
  const result = await timeLoop(n, async () => {
    const entries: Entry[] = new Array<Entry>(batch);
    for (let k = 0; k < batch; k++) entries[k] = { term: 1, index: next + k, type: 'normal', data };
    next += batch;
    await s.save({ entries, hardState: { term: 1, vote: 'n1', commit: next - 1 } });
  });
  await s.close();
  return result;
}

function crcBench(): { slicing8MBps: number; bytewiseMBps: number } {
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
    return runs.sort((a, b) => a - b)[4] ?? 0;
  };
  if (bytewise(buf) !== crc32c(buf)) throw new Error('crc mismatch');
  return { slicing8MBps: mbps((b) => crc32c(b)), bytewiseMBps: mbps(bytewise) };
}

function row(name: string, s: Stats, entriesPerCall: number): string {
  const perSec = (entriesPerCall * 1e6) / s.medianUs;
  const overall = (entriesPerCall * s.n) / (s.totalMs / 1000);
  return `${name.padEnd(46)} median ${s.medianUs.toFixed(1).padStart(8)} µs  p99 ${s.p99Us.toFixed(1).padStart(8)} µs  ${Math.round(perSec).toLocaleString('en-US').padStart(10)} entries/s at median (${Math.round(overall).toLocaleString('en-US')} overall)`;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(join(tmpdir(), 'qkv-bench-storage-'));
  try {
    console.log(`storage bench: ${ENTRY_BYTES}-byte entries, dir ${root}, node ${process.version}`);
    const n1 = Math.max(100, Math.round(2000 * SCALE));
    // One save of one entry is a ~300-byte record: compare with raw loops of that size.
    const raw = await rawLoops(root, ENTRY_BYTES + 40, n1);
    for (const [name, s] of Object.entries(raw)) console.log(row(name, s, 1));
    const results: [number, Stats][] = [];
    for (const [batch, n] of [[1, n1], [16, Math.max(100, Math.round(1000 * SCALE))], [256, Math.max(50, Math.round(300 * SCALE))]] as const) {
      const d = join(root, `wal-${batch}`);
      const s = await storageLoop(d, batch, n);
      results.push([batch, s]);
      console.log(row(`fileStorage.save batch ${batch}`, s, batch));
      fs.rmSync(d, { recursive: true, force: true });
    }
    const single = results[0]?.[1];
    const b256 = results[2]?.[1];
    if (single !== undefined && b256 !== undefined) {
      for (const [name, s] of Object.entries(raw)) console.log(`single-entry save / ${name}: ${(single.medianUs / s.medianUs).toFixed(2)}×  (target ≤ 1.3×)`);
      console.log(`batch 256 durable throughput at median: ${Math.round((256 * 1e6) / b256.medianUs).toLocaleString('en-US')} entries/s (target ≥ 200,000)`);
    }
    const crc = crcBench();
    console.log(`crc32c slicing-by-8 ${crc.slicing8MBps.toFixed(0)} MB/s vs byte-at-a-time ${crc.bytewiseMBps.toFixed(0)} MB/s (${(crc.slicing8MBps / crc.bytewiseMBps).toFixed(1)}×)`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
