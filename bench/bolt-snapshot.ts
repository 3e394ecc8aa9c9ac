// The etcd bolt database of Maintenance.Snapshot (src/grpc/bolt/etcd-db.ts) against the store's
// own snapshot encoding, on one in-process store of N keys: time from the frozen view to the last
// page, bytes, and the event loop's gaps meanwhile (a 1 ms interval; wall clock, so a loaded
// machine's preemption and GC pauses are included; the CPU column is process.cpuUsage() between
// two firings, all threads). Then `etcdctl snapshot status` on the database when etcdctl is
// installed (it runs bbolt's consistency check).
//
//   node --import tsx bench/bolt-snapshot.ts [keys=1000000] [valueBytes=64]
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planEtcdDb } from '../src/grpc/bolt/etcd-db.ts';
import { Store } from '../src/store/store.ts';
import { percentile } from './stats.ts';

const keys = Number(process.argv[2] ?? 1_000_000);
const valueBytes = Number(process.argv[3] ?? 64);

interface Run {
  readonly ms: number;
  readonly bytes: number;
  readonly p99GapMs: number;
  readonly maxGapMs: number;
  readonly maxCpuGapMs: number;
}

async function measured(work: () => Promise<number>): Promise<Run> {
  const gaps: number[] = [];
  let maxCpuGapMs = 0;
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    gaps.push(now - last);
    maxCpuGapMs = Math.max(maxCpuGapMs, (cpu.user + cpu.system) / 1000);
    last = now;
    lastCpu = process.cpuUsage();
  }, 1);
  const started = performance.now();
  const bytes = await work();
  const ms = performance.now() - started;
  clearInterval(timer);
  return { ms, bytes, p99GapMs: percentile(gaps, 99), maxGapMs: Math.max(...gaps), maxCpuGapMs };
}

const store = new Store();
const value = new Uint8Array(valueBytes).fill(0x61);
for (let i = 0; i < keys; i++) store.apply({ type: 'put', request: { key: `key/${String(i).padStart(10, '0')}`, value } });
const file = join(tmpdir(), `qkv-bolt-bench-${process.pid}.db`);
const pages: Uint8Array[] = [];
const bolt = await measured(async () => {
  const db = await planEtcdDb(store.snapshot().view, 1);
  let bytes = 0;
  for await (const page of db.pages()) {
    bytes += page.length;
    pages.push(page);
  }
  return bytes;
});
writeFileSync(file, Buffer.concat(pages));
pages.length = 0;
const own = await measured(async () => (await store.snapshot().encodeAsync()).length);
const row = (name: string, r: Run): string => `| ${name} | ${r.ms.toFixed(0)} | ${(r.bytes / 1e6).toFixed(1)} | ${r.p99GapMs.toFixed(1)} | ${r.maxGapMs.toFixed(1)} | ${r.maxCpuGapMs.toFixed(1)} |`;
console.log(`${keys} keys of ${valueBytes} B\n`);
console.log('| encoding | ms | MB | p99 gap ms | max gap ms | max CPU between firings ms |\n|---|---|---|---|---|---|');
console.log(row('etcd bolt database (planned + every page)', bolt));
console.log(row('store snapshot (encodeAsync)', own));
const status = spawnSync('etcdctl', ['snapshot', 'status', file, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' });
console.log(status.status === 0 ? `\netcdctl snapshot status: ${status.stdout.trim()}` : `\netcdctl snapshot status unavailable: ${status.error?.message ?? status.stderr}`);
rmSync(file, { force: true });
