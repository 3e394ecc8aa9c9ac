// Scale benchmark: quorumkv and (when installed) etcd with a large keyspace, same workload
// (bench/scale-workload.ts: 32-byte keys, 100-byte values, one revision each). See docs/scale-bench.md.
//   1. one member, file storage: bulk load of N keys in 128-op txns from 16 workers; RSS (and V8
//      heap and a forced full GC for quorumkv); data dir size; graceful and kill -9 restarts timed
//      to the first successful linearizable read of a loaded key.
//   2. three members on loopback: load M keys through the leader, then D seconds of puts of the
//      same keys at 64 in flight (quorumkv: from inside the leader process; etcd: etcd3 client in
//      this process): puts/s, latency, failed writes, term changes, each quorumkv member's worst
//      event-loop stall, snapshots written.
//
//   npm run bench:scale
//   QKV_SCALE_KEYS=100000 QKV_SCALE_SECONDS=10 npm run bench:scale   # small run
//   env: QKV_SCALE_KEYS, QKV_SCALE_CLUSTER_KEYS, QKV_SCALE_SECONDS, QKV_SCALE_RUNS, QKV_ETCD_BIN,
//        QKV_BENCH_ETCD=0 (skip etcd), QKV_SCALE_PHASE_MS (bound per phase), QKV_BENCH_LOG=1
import { syncCleanups } from './exit-cleanup.ts';
import { median } from './stats.ts';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { IpcCalls } from '../test/helpers/ipc-calls.ts';
import { freePorts } from '../test/helpers/ports.ts';
import { etcdVersion } from './etcd-cluster.ts';
import { etcdCluster3, etcdSingle } from './scale-etcd.ts';
import { dirBytes, LOAD_TIMEOUT_MS, LOAD_WORKERS, probeKey, rssOf, STALL_MS, STEADY_INFLIGHT, TXN_OPS, VALUE_BYTES } from './scale-workload.ts';
import type { SteadyResult } from './scale-workload.ts';

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${raw}`);
  return v;
}

const KEYS = envInt('QKV_SCALE_KEYS', 1_000_000, 1_000);
const CLUSTER_KEYS = envInt('QKV_SCALE_CLUSTER_KEYS', KEYS, 1_000);
const SECONDS = envInt('QKV_SCALE_SECONDS', 60, 1);
const RUNS = envInt('QKV_SCALE_RUNS', 1, 1);
/** Bound on every phase (a load, a restart, a steady-state window): past it the run fails. */
const PHASE_MS = envInt('QKV_SCALE_PHASE_MS', 600_000, 1_000);
const etcdBin = process.env['QKV_ETCD_BIN'] ?? 'etcd';
const memberScript = new URL('./scale-member.ts', import.meta.url).pathname;

// ---------------------------------------------------------------------------------------------

/** A registration slot for one synchronous cleanup (replaced or removed by the next call). */
function cleanupSlot(): (cleanup: (() => void) | undefined) => void {
  let current: (() => void) | undefined;
  return (cleanup) => {
    if (current !== undefined) syncCleanups.delete(current);
    current = cleanup;
    if (cleanup !== undefined) syncCleanups.add(cleanup);
  };
}

function withTimeout<T>(what: string, p: Promise<T>, ms = PHASE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function log(msg: string): void {
  console.error(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

// ---------------------------------------------------------------------------------------------
interface Started {
  readonly createMs: number;
  readonly createToReadMs: number | undefined;
  /** From fork() to the started message (after the probe read when there is one). */
  readonly spawnToStartedMs: number;
}

/** One bench/scale-member.ts process. */
class MemberProc {
  readonly id: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly started: Promise<Started>;
  readonly exited: Promise<void>;
  readonly #calls: IpcCalls;

  constructor(options: { id: string; dataDir: string; peers?: Record<string, string>; requestTimeoutMs?: number }, probe?: string) {
    this.id = options.id;
    this.dataDir = options.dataDir;
    const t0 = performance.now();
    this.child = fork(memberScript, [JSON.stringify({ options, probeKey: probe })], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#calls = new IpcCalls(this.id, this.child, (e) => {
      const { code, message } = e as { code: string; message: string };
      return new Error(`${this.id}: ${code}: ${message}`);
    });
    let onExit: () => void = () => {};
    this.exited = new Promise<void>((resolve) => (onExit = resolve));
    this.started = new Promise<Started>((resolve, reject) => {
      this.child.on('message', (msg: Record<string, unknown>) => {
        if (msg['started'] === true) {
          resolve({ createMs: msg['createMs'] as number, createToReadMs: msg['createToReadMs'] as number | undefined, spawnToStartedMs: performance.now() - t0 });
        } else this.#calls.settle(msg);
      });
      this.child.once('exit', (code, signal) => {
        reject(new Error(`${this.id} exited (${signal ?? code}) before it started`));
        this.#calls.rejectAll(new Error(`${this.id} exited (${signal ?? code})`));
        onExit();
      });
    });
    this.started.catch(() => {});
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  call<T>(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (!this.running) return Promise.reject(new Error(`${this.id} is not running`));
    return this.#calls.call<T>(op, args, timeoutMs);
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  async killAndWait(): Promise<void> {
    this.kill();
    await withTimeout(`${this.id} exit after SIGKILL`, this.exited, 10_000);
  }

  /** node.close() then exit; SIGKILL when that takes longer than `boundMs`. */
  async close(boundMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.call('close', {}, boundMs).catch(() => {});
    const graceful = await Promise.race([this.exited.then(() => true), sleep(boundMs).then(() => false)]);
    if (!graceful) await this.killAndWait();
  }
}

interface Mem {
  readonly rss: number;
  readonly heapUsed: number;
  readonly gcMaxMs: number;
}

async function memOf(m: MemberProc): Promise<Mem> {
  const inside = await m.call<Mem>('mem', {}, PHASE_MS);
  // RSS from /proc as for etcd (same figure as process.memoryUsage().rss, read from outside).
  return { ...inside, rss: (await rssOf(m.child.pid!)) ?? inside.rss };
}

/** Figures of one run, by name; absent when the side did not produce it. */
type Figures = Record<string, number>;

interface SideResult {
  readonly figures: Figures;
  readonly notes: string[];
  error?: string | undefined;
}

// ---------------------------------------------------------------------------------------------
async function quorumSingle(f: Figures, notes: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-scale-'));
  const members: MemberProc[] = [];
  const cleanup = (): void => {
    for (const m of members) m.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  syncCleanups.add(cleanup);
  const dataDir = join(dir, 'n1');
  const options = { id: 'n1', dataDir, requestTimeoutMs: LOAD_TIMEOUT_MS };
  const start = (probe?: string): MemberProc => {
    const m = new MemberProc(options, probe);
    members.push(m);
    return m;
  };
  try {
    let m = start();
    await withTimeout('quorumkv single start', m.started);
    await m.call('ready', { timeoutMs: 60_000 }, 90_000);
    log(`quorumkv: loading ${KEYS} keys into one member`);
    f['loadMs'] = await m.call<number>('load', { keys: KEYS, workers: LOAD_WORKERS }, PHASE_MS);
    const mem = await memOf(m);
    f['rssAfterLoad'] = mem.rss;
    f['heapAfterLoad'] = mem.heapUsed;
    f['gcAfterLoadMs'] = mem.gcMaxMs;
    f['dataDirBytes'] = await dirBytes(dataDir);

    log('quorumkv: close() + restart');
    await withTimeout('quorumkv close()', m.close(PHASE_MS), PHASE_MS + 10_000);
    m = start(probeKey(KEYS));
    let s = await withTimeout('quorumkv restart → first read', m.started);
    f['restartReadMs'] = s.spawnToStartedMs;
    f['restartCreateReadMs'] = s.createToReadMs!;
    f['restartCreateMs'] = s.createMs;
    const memR = await memOf(m);
    f['rssAfterRestart'] = memR.rss;
    f['heapAfterRestart'] = memR.heapUsed;
    f['gcAfterRestartMs'] = memR.gcMaxMs;

    log('quorumkv: kill -9 + restart');
    await m.killAndWait();
    m = start(probeKey(KEYS));
    s = await withTimeout('quorumkv kill -9 restart → first read', m.started);
    f['killRestartReadMs'] = s.spawnToStartedMs;
    f['killRestartCreateReadMs'] = s.createToReadMs!;
    f['killRestartCreateMs'] = s.createMs;
    f['rssAfterKillRestart'] = (await rssOf(m.child.pid!)) ?? NaN;
    await withTimeout('quorumkv close()', m.close(PHASE_MS), PHASE_MS + 10_000);
  } finally {
    await Promise.all(members.map((m) => m.close(10_000).catch(() => m.kill())));
    rmSync(dir, { recursive: true, force: true });
    syncCleanups.delete(cleanup);
  }
  void notes;
}

interface Status {
  readonly role: string;
  readonly leader: string;
  readonly term: number;
}
interface MonitorResult {
  readonly delayMaxMs: number;
  readonly delayP99Ms: number;
  readonly stalls: number;
  readonly maxGapMs: number;
  readonly leaderChanges: number;
  readonly leaderLost: number;
}

/** Counts distinct `*.snap` files appearing in each dir while running (polled every 100 ms). */
function snapshotWatcher(dirs: readonly string[]): { stop(): number[] } {
  const seen = dirs.map((d) => new Set(list(d)));
  const fresh = dirs.map(() => new Set<string>());
  function list(d: string): string[] {
    try {
      return readdirSync(d).filter((n) => n.endsWith('.snap'));
    } catch {
      return [];
    }
  }
  const poll = (): void => {
    dirs.forEach((d, i) => {
      for (const n of list(d)) if (!seen[i]!.has(n)) fresh[i]!.add(n);
    });
  };
  const timer = setInterval(poll, 100);
  return {
    stop() {
      clearInterval(timer);
      poll();
      return fresh.map((s) => s.size);
    },
  };
}

async function quorumCluster(f: Figures, notes: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-scale3-'));
  const ids = ['n1', 'n2', 'n3'];
  const ports = await freePorts(ids.length);
  const peers: Record<string, string> = {};
  ids.forEach((id, i) => (peers[id] = `ws://127.0.0.1:${ports[i]!}`));
  // Default requestTimeoutMs (5 s) for the steady state; the load passes its own per-call timeout.
  const members = ids.map((id) => new MemberProc({ id, dataDir: join(dir, id), peers }));
  const cleanup = (): void => {
    for (const m of members) m.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  syncCleanups.add(cleanup);
  try {
    await withTimeout('quorumkv cluster start', Promise.all(members.map((m) => m.started)));
    await Promise.all(members.map((m) => m.call('ready', { timeoutMs: 60_000 }, 90_000)));
    const leaderOf = async (): Promise<MemberProc> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        for (const m of members) if ((await m.call<Status>('status')).role === 'leader') return m;
        if (Date.now() > deadline) throw new Error('quorumkv cluster: no leader within 60 s');
        await sleep(50);
      }
    };
    let leader = await leaderOf();
    log(`quorumkv: loading ${CLUSTER_KEYS} keys into the 3-member cluster (leader ${leader.id})`);
    const beforeLoad = await Promise.all(members.map((m) => m.call<Status>('status')));
    f['clusterLoadMs'] = await leader.call<number>('load', { keys: CLUSTER_KEYS, workers: LOAD_WORKERS }, PHASE_MS);
    const afterLoad = await Promise.all(members.map((m) => m.call<Status>('status', {}, PHASE_MS)));
    f['loadTermChanges'] = Math.max(...afterLoad.map((a, i) => a.term - beforeLoad[i]!.term));
    leader = await leaderOf();

    log(`quorumkv: steady state, ${SECONDS} s of puts at ${STEADY_INFLIGHT} in flight from ${leader.id}`);
    const before = await Promise.all(members.map((m) => m.call<Status>('status')));
    const snaps = snapshotWatcher(members.map((m) => m.dataDir));
    await Promise.all(members.map((m) => m.call('monStart')));
    let steady: SteadyResult;
    let mons: MonitorResult[];
    try {
      steady = await leader.call<SteadyResult>('steady', { keys: CLUSTER_KEYS, inflight: STEADY_INFLIGHT, seconds: SECONDS }, SECONDS * 1000 + PHASE_MS);
    } finally {
      mons = await Promise.all(members.map((m) => m.call<MonitorResult>('monStop', {}, PHASE_MS)));
    }
    const snapCounts = snaps.stop();
    const after = await Promise.all(members.map((m) => m.call<Status>('status')));
    steadyFigures(f, steady);
    f['termChanges'] = Math.max(...after.map((a, i) => a.term - before[i]!.term));
    f['leaderChanges'] = Math.max(...mons.map((m) => m.leaderChanges));
    f['leaderLost'] = mons.reduce((sum, m) => sum + m.leaderLost, 0);
    if (Object.keys(steady.failures).length > 0) notes.push(`quorumkv failed writes by code: ${JSON.stringify(steady.failures)}`);
    // Per member, leader first (roles as before the window).
    const order = members.map((m, i) => ({ m, i })).sort((a, b) => (a.m === leader ? -1 : b.m === leader ? 1 : a.i - b.i));
    order.forEach(({ m, i }, slot) => {
      const tag = slot === 0 ? 'leader' : `follower${slot}`;
      f[`${tag}DelayMaxMs`] = mons[i]!.delayMaxMs;
      f[`${tag}Stalls`] = mons[i]!.stalls;
      f[`${tag}MaxGapMs`] = mons[i]!.maxGapMs;
      f[`${tag}Snapshots`] = snapCounts[i]!;
      notes.push(`quorumkv ${tag} = ${m.id}`);
    });
    f['leaderRssAfterSteady'] = (await rssOf(leader.child.pid!)) ?? NaN;
  } finally {
    await Promise.all(members.map((m) => m.close(10_000).catch(() => m.kill())));
    rmSync(dir, { recursive: true, force: true });
    syncCleanups.delete(cleanup);
  }
}

function steadyFigures(f: Figures, s: SteadyResult): void {
  f['putsPerSec'] = s.puts / (s.elapsedMs / 1000);
  f['putP50Ms'] = s.p50Ms;
  f['putP99Ms'] = s.p99Ms;
  f['putMaxMs'] = s.maxMs;
  f['failedWrites'] = s.failed;
}

// ---------------------------------------------------------------------------------------------
async function etcdSide(f: Figures, notes: string[]): Promise<void> {
  const register = cleanupSlot();
  log(`etcd: loading ${KEYS} keys into one member, then restarts`);
  const s = await withTimeout('etcd single member', etcdSingle(etcdBin, KEYS, PHASE_MS, register), 4 * PHASE_MS);
  f['loadMs'] = s.loadMs;
  if (s.rssAfterLoad !== undefined) f['rssAfterLoad'] = s.rssAfterLoad;
  f['dataDirBytes'] = s.dataDirBytes;
  f['restartReadMs'] = s.restartReadMs;
  if (s.rssAfterRestart !== undefined) f['rssAfterRestart'] = s.rssAfterRestart;
  f['killRestartReadMs'] = s.killRestartReadMs;
  if (s.rssAfterKillRestart !== undefined) f['rssAfterKillRestart'] = s.rssAfterKillRestart;

  log(`etcd: loading ${CLUSTER_KEYS} keys into a 3-member cluster, then ${SECONDS} s of puts`);
  const c = await withTimeout('etcd cluster', etcdCluster3(etcdBin, CLUSTER_KEYS, SECONDS, register), 2 * PHASE_MS + SECONDS * 1000);
  f['clusterLoadMs'] = c.loadMs;
  f['loadTermChanges'] = c.loadTermChanges;
  steadyFigures(f, c.steady);
  f['termChanges'] = c.termChanges;
  f['leaderChanges'] = c.leaderChanged ? 1 : 0;
  if (c.leaderRssAfter !== undefined) f['leaderRssAfterSteady'] = c.leaderRssAfter;
  if (Object.keys(c.steady.failures).length > 0) notes.push(`etcd failed writes by error: ${JSON.stringify(c.steady.failures)}`);
}

async function runSide(name: string, body: (f: Figures, notes: string[]) => Promise<void>): Promise<SideResult> {
  const r: SideResult = { figures: {}, notes: [] };
  const t = performance.now();
  try {
    await body(r.figures, r.notes);
  } catch (err) {
    r.error = err instanceof Error ? err.message : String(err);
    console.error(`${name} failed: ${r.error}`);
  }
  log(`${name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return r;
}

// ---------------------------------------------------------------------------------------------
const MiB = 1024 * 1024;
const fmtMs = (x: number): string => (x >= 100 ? `${Math.round(x).toLocaleString('en-US')} ms` : `${x.toFixed(1)} ms`);
const fmtS = (x: number): string => `${(x / 1000).toFixed(1)} s`;
const fmtMiB = (x: number): string => `${Math.round(x / MiB).toLocaleString('en-US')} MiB`;
const fmtRate = (unit: string) => (x: number): string => `${Math.round(x).toLocaleString('en-US')} ${unit}`;
const fmtCount = (x: number): string => Math.round(x).toLocaleString('en-US');

interface Row {
  readonly label: string;
  readonly pick: (f: Figures) => number | undefined;
  readonly format: (x: number) => string;
  /** etcd has no such figure: print "—" without looking. */
  readonly qkvOnly?: boolean;
}

const k = (name: string) => (f: Figures): number | undefined => f[name];
const rate = (msName: string, keys: number) => (f: Figures): number | undefined => (f[msName] === undefined ? undefined : keys / (f[msName] / 1000));
const keysLabel = (n: number): string => n.toLocaleString('en-US');

const ROWS: readonly Row[] = [
  { label: `bulk load, 1 member: ${keysLabel(KEYS)} keys, ${TXN_OPS}-op txns, ${LOAD_WORKERS} workers — time`, pick: k('loadMs'), format: fmtS },
  { label: 'bulk load, 1 member — keys/s', pick: rate('loadMs', KEYS), format: fmtRate('keys/s') },
  { label: 'RSS after load', pick: k('rssAfterLoad'), format: fmtMiB },
  { label: 'V8 heapUsed after load (after forced GC)', pick: k('heapAfterLoad'), format: fmtMiB, qkvOnly: true },
  { label: 'forced full GC after load (max of 3)', pick: k('gcAfterLoadMs'), format: fmtMs, qkvOnly: true },
  { label: 'data dir size after load', pick: k('dataDirBytes'), format: fmtMiB },
  { label: 'graceful restart: spawn → first linearizable read', pick: k('restartReadMs'), format: fmtMs },
  { label: 'graceful restart: createNode() → first read (in process)', pick: k('restartCreateReadMs'), format: fmtMs, qkvOnly: true },
  { label: 'graceful restart: createNode() resolves', pick: k('restartCreateMs'), format: fmtMs, qkvOnly: true },
  { label: 'RSS after graceful restart', pick: k('rssAfterRestart'), format: fmtMiB },
  { label: 'V8 heapUsed after restart (after forced GC)', pick: k('heapAfterRestart'), format: fmtMiB, qkvOnly: true },
  { label: 'forced full GC after restart (max of 3)', pick: k('gcAfterRestartMs'), format: fmtMs, qkvOnly: true },
  { label: 'kill -9 restart: spawn → first linearizable read', pick: k('killRestartReadMs'), format: fmtMs },
  { label: 'kill -9 restart: createNode() → first read (in process)', pick: k('killRestartCreateReadMs'), format: fmtMs, qkvOnly: true },
  { label: 'RSS after kill -9 restart', pick: k('rssAfterKillRestart'), format: fmtMiB },
  { label: `3 members: load ${keysLabel(CLUSTER_KEYS)} keys through the leader — time`, pick: k('clusterLoadMs'), format: fmtS },
  { label: '3 members: load — keys/s', pick: rate('clusterLoadMs', CLUSTER_KEYS), format: fmtRate('keys/s') },
  { label: '3 members: term changes during the load (max over members)', pick: k('loadTermChanges'), format: fmtCount },
  { label: `steady state (${SECONDS} s, ${STEADY_INFLIGHT} in flight): puts/s`, pick: k('putsPerSec'), format: fmtRate('puts/s') },
  { label: 'steady state: put latency p50', pick: k('putP50Ms'), format: fmtMs },
  { label: 'steady state: put latency p99', pick: k('putP99Ms'), format: fmtMs },
  { label: 'steady state: put latency max', pick: k('putMaxMs'), format: fmtMs },
  { label: 'steady state: failed writes (5 s timeout)', pick: k('failedWrites'), format: fmtCount },
  { label: 'steady state: term changes (max over members)', pick: k('termChanges'), format: fmtCount },
  { label: 'steady state: leader changes (quorumkv: a new leader named, max over members; etcd: leader differs after)', pick: k('leaderChanges'), format: fmtCount },
  { label: 'steady state: a member lost its leader (`leader` events with none, sum over members)', pick: k('leaderLost'), format: fmtCount, qkvOnly: true },
  ...['leader', 'follower1', 'follower2'].flatMap((tag): Row[] => [
    { label: `${tag}: worst event-loop delay (monitorEventLoopDelay max)`, pick: k(`${tag}DelayMaxMs`), format: fmtMs, qkvOnly: true },
    { label: `${tag}: worst lateness of a 5 ms timer`, pick: k(`${tag}MaxGapMs`), format: fmtMs, qkvOnly: true },
    { label: `${tag}: event-loop stalls > ${STALL_MS} ms (count)`, pick: k(`${tag}Stalls`), format: fmtCount, qkvOnly: true },
    { label: `${tag}: snapshots written during the steady state`, pick: k(`${tag}Snapshots`), format: fmtCount, qkvOnly: true },
  ]),
  { label: 'leader RSS after the steady state', pick: k('leaderRssAfterSteady'), format: fmtMiB },
];

/** One value, or min–median–max over the runs that produced it. */
function cell(row: Row, runs: readonly Figures[]): { text: string; median?: number } {
  const xs = runs.map(row.pick).filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (xs.length === 0) return { text: '—' };
  const m = median(xs);
  if (xs.length === 1) return { text: row.format(m), median: m };
  return { text: `${row.format(Math.min(...xs))} – **${row.format(m)}** – ${row.format(Math.max(...xs))}`, median: m };
}

function printTable(qkv: SideResult[], etcd: SideResult[] | undefined, etcdName: string, machine: string): void {
  console.log(`\n## quorumkv scale bench\n`);
  console.log(`| figure | quorumkv | ${etcdName} | quorumkv / etcd |`);
  console.log('|---|---|---|---|');
  for (const row of ROWS) {
    const q = cell(row, qkv.map((r) => r.figures));
    const e = etcd === undefined || row.qkvOnly === true ? { text: '—' } : cell(row, etcd.map((r) => r.figures));
    const ratio = q.median !== undefined && 'median' in e && e.median !== undefined && e.median > 0 ? `${(q.median / e.median).toFixed(2)}×` : '—';
    console.log(`| ${row.label} | ${q.text} | ${e.text} | ${ratio} |`);
  }
  console.log(
    `\nParameters: ${keysLabel(KEYS)} keys on one member, ${keysLabel(CLUSTER_KEYS)} keys on 3 members; keys 32 B (\`key/\` + 27 digits), values ${VALUE_BYTES} B, ` +
      `one revision each; load ${TXN_OPS}-op txns from ${LOAD_WORKERS} workers; steady state ${SECONDS} s at ${STEADY_INFLIGHT} in flight, 5 s per-put timeout; ` +
      `file storage / fsync on, default Raft timers and snapshot thresholds; ${RUNS} run(s)${RUNS > 1 ? ' (min – **median** – max)' : ''}.`,
  );
  console.log(`Machine: ${machine}.`);
  console.log(
    `Reproduce: \`QKV_SCALE_KEYS=${KEYS} QKV_SCALE_CLUSTER_KEYS=${CLUSTER_KEYS} QKV_SCALE_SECONDS=${SECONDS} QKV_SCALE_RUNS=${RUNS} npm run bench:scale\`.`,
  );
  console.log('quorumkv / etcd: ratios of medians (the upper one for an even number of runs); below 1× is better for times, latencies, sizes and failures, above 1× for rates.');
  const tagged = (r: SideResult, i: number): string[] => r.notes.map((n) => (RUNS > 1 ? `run ${i + 1}: ${n}` : n));
  for (const n of [...qkv.flatMap(tagged), ...(etcd ?? []).flatMap(tagged)]) console.log(`- ${n}`);
  qkv.forEach((r, i) => r.error !== undefined && console.log(`- quorumkv run ${i + 1} FAILED: ${r.error}`));
  etcd?.forEach((r, i) => r.error !== undefined && console.log(`- etcd run ${i + 1} FAILED: ${r.error}`));
}

async function main(): Promise<number> {
  const skipEtcd = process.env['QKV_BENCH_ETCD'] === '0';
  const version = skipEtcd ? undefined : etcdVersion(etcdBin);
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 1024 ** 3)} GiB, node ${process.version}, ${version === undefined ? 'etcd not run' : `etcd ${version}`}`;
  log(`keys ${KEYS}, cluster keys ${CLUSTER_KEYS}, ${SECONDS} s steady, ${RUNS} run(s); ${machine}`);
  const qkv: SideResult[] = [];
  const etcd: SideResult[] = [];
  let skipped: string | undefined;
  if (skipEtcd) skipped = 'QKV_BENCH_ETCD=0';
  else if (version === undefined) skipped = `no runnable \`${etcdBin}\` binary (install Debian etcd-server, or set QKV_ETCD_BIN)`;
  for (let run = 0; run < RUNS; run++) {
    log(`run ${run + 1}/${RUNS}`);
    const single = await runSide('quorumkv single member', quorumSingle);
    const cluster = await runSide('quorumkv 3 members', quorumCluster);
    qkv.push({ figures: { ...single.figures, ...cluster.figures }, notes: [...single.notes, ...cluster.notes], error: [single.error, cluster.error].filter((e) => e !== undefined).join('; ') || undefined });
    if (skipped === undefined) etcd.push(await runSide('etcd', etcdSide));
  }
  printTable(qkv, skipped === undefined ? etcd : undefined, version === undefined ? 'etcd' : `etcd ${version}`, machine);
  if (skipped !== undefined) console.log(`- etcd side skipped: ${skipped}`);
  return [...qkv, ...etcd].every((r) => r.error === undefined) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
