/**
 * `npm run bench:recipes` — lock recipe latency and throughput on a 3-member cluster.
 *
 * Rows (`QKV_BENCH_ROWS`, comma-separated; default all four):
 * - `proc-file`   — the deployment quorumkv is built for: 3 member processes on loopback (this file
 *                   re-run with `--member`), each with wsTransport and fileStorage (fsync on, the
 *                   default), default Raft timers. The lock workers run INSIDE the member
 *                   processes, as an app embedding quorumkv would: the parent only sends commands
 *                   over IPC and sums the counts; no timing crosses IPC.
 * - `proc-memory` — the same 3 processes with memoryStorage (no disk): the cost of fsync.
 * - `inproc-memory`, `inproc-ws` — the session-1 harness: all 3 members AND all workers in this one
 *                   process (one core), memory storage, memory / ws transport. Kept for comparison.
 *
 * Measured in every row:
 * 1. Uncontended acquire + release of one lock, sequential, one shared session (one txn to acquire,
 *    one to release), on the leader and on a follower: per-cycle latency p50. Target ≤ 2 ms.
 * 2. 1,000 distinct locks in parallel: 1,000 concurrent workers (split evenly over the members),
 *    each cycling acquire → release of its own lock name, 10 shared sessions per member, for
 *    `QKV_BENCH_PARALLEL_MS`; cycles per second summed over the members. Target ≥ 5,000 cycles/s.
 *    For process rows the members start together at an agreed wall-clock instant and the rate is
 *    total cycles / the longest member's elapsed time. Also printed: the members' total CPU time per
 *    cycle (µs, `process.cpuUsage()`), a load-independent measure of cost.
 * 3. Baseline: the same two txns per cycle issued directly (no recipe), same workers.
 * Uncontended runs: untimed rounds first until their p50 settles (bench/warm-up.ts), printed.
 * Parallel runs: an untimed warm-up of each workload first (QKV_BENCH_WARM_UP_MS, default 2000);
 * the history is compacted before each measured run (so MVCC history and snapshots do not grow
 * from run to run); rounds alternate which workload goes first.
 * Each measurement is repeated `QKV_BENCH_ROUNDS` times (default 3); medians are reported.
 * Options: QKV_BENCH_CYCLES (default 300), QKV_BENCH_PARALLEL_MS (default 2000),
 * QKV_BENCH_CPU_PROF=<dir> (process rows: members run with `--cpu-prof --cpu-prof-dir=<dir>`).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, cmp, createNode, createSession, MemoryNetwork, memoryStorage, memoryTransport, op } from '../src/index.ts';
import type { QuorumNode, Session } from '../src/index.ts';
import { PendingCalls } from '../examples/support/pending-calls.ts';
import { freePorts } from '../test/node/helpers/proc-cluster.ts';
import { formatRounds, WARM_UP_RULE, warmUntilSettled } from './warm-up.ts';
import { median, percentile } from './stats.ts';

const ROUNDS = Number(process.env['QKV_BENCH_ROUNDS'] ?? 3);
const CYCLES = Number(process.env['QKV_BENCH_CYCLES'] ?? 300);
const PARALLEL_MS = Number(process.env['QKV_BENCH_PARALLEL_MS'] ?? 2_000);
const ROWS = (process.env['QKV_BENCH_ROWS'] ?? 'proc-file,proc-memory,inproc-memory,inproc-ws').split(',');
const CPU_PROF_DIR = process.env['QKV_BENCH_CPU_PROF'];
/** Untimed run of each parallel workload before the measured rounds (JIT, connections). */
const WARM_UP_MS = Number(process.env['QKV_BENCH_WARM_UP_MS'] ?? 2_000);
const PARALLEL_LOCKS = 1_000;
const SESSIONS_PER_MEMBER = 10;
const SESSION_TTL_MS = 30_000;
/** A member process must be up (node ready) within this bound, and answer every command within IPC_TIMEOUT_MS. */
const MEMBER_START_TIMEOUT_MS = 90_000;
const IPC_TIMEOUT_MS = 120_000;
const NODE_LIMITS = { maxPendingProposals: 50_000, maxPendingReads: 50_000 };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

type Workload = 'recipe' | 'baseline';

interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

interface ParallelRun {
  readonly cycles: number;
  readonly elapsedMs: number;
  /** user + system CPU of the process during the run, µs. */
  readonly cpuUs: number;
}


// ---------------------------------------------------------------------------------------------
// Workloads: run wherever the node lives (a member process, or this process for in-process rows).

async function uncontended(node: QuorumNode, session: Session, name: string, cycles: number): Promise<Latency> {
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) await (await acquireLock(node, name, { session })).release(); // warm-up
  for (let i = 0; i < cycles; i++) {
    const t0 = performance.now();
    const lock = await acquireLock(node, name, { session });
    await lock.release();
    samples.push(performance.now() - t0);
  }
  return { p50: percentile(samples, 50), p90: percentile(samples, 90), p99: percentile(samples, 99) };
}

/**
 * The two txns of a lock cycle issued directly — create-if-absent with a count of the prefix, then
 * a compare-guarded delete (what `enterLine` and `deleteIfOwned` send): the node's cost without
 * the recipe.
 */
async function rawCycle(node: QuorumNode, prefix: string, leaseId: number): Promise<void> {
  const key = `${prefix}${leaseId.toString(16)}`;
  const res = await node
    .txn()
    .if(cmp.createRevision(key, '==', 0))
    .then(op.put(key, '', { lease: leaseId }), op.range({ prefix }, { countOnly: true }))
    .else(op.get(key))
    .commit();
  await node.txn().if(cmp.createRevision(key, '==', res.revision)).then(op.delete(key)).commit();
}

/** One worker per entry of `workers` (its global index), each cycling its own lock until `deadlineMs` (performance.now()). */
async function runWorkers(node: QuorumNode, sessions: Session[], workers: number[], tag: string, workload: Workload, deadlineMs: number): Promise<number> {
  let cycles = 0;
  await Promise.all(
    workers.map(async (i) => {
      const session = sessions[i % sessions.length] as Session;
      const name = `/bench/${tag}/${i}`;
      while (performance.now() < deadlineMs) {
        if (workload === 'recipe') await (await acquireLock(node, name, { session })).release();
        else await rawCycle(node, `${name}/`, session.leaseId);
        cycles++;
      }
    }),
  );
  return cycles;
}

// ---------------------------------------------------------------------------------------------
// Member side (`--member <json>`): a real member plus the workers, driven by IPC commands.

interface MemberConfig {
  readonly id: string;
  readonly peers: Record<string, string>;
  readonly dataDir?: string;
}

interface Request {
  readonly id: number;
  readonly op: string;
  readonly args: Record<string, number | string>;
}

async function memberMain(config: MemberConfig): Promise<void> {
  const node = await createNode({
    id: config.id,
    peers: config.peers,
    ...(config.dataDir === undefined ? { storage: memoryStorage() } : { dataDir: config.dataDir }),
    logger: quiet,
    ...NODE_LIMITS,
  });
  await node.ready({ timeoutMs: MEMBER_START_TIMEOUT_MS });
  const sessions: Session[] = [];
  const handle = async (req: Request): Promise<unknown> => {
    const a = req.args;
    switch (req.op) {
      case 'role':
        return node.status().role;
      case 'compact':
        return node.compact(node.status().revision);
      case 'sessions':
        for (let i = 0; i < Number(a['count']); i++) sessions.push(await createSession(node, { ttlMs: SESSION_TTL_MS }));
        return sessions.length;
      case 'uncontended':
        return uncontended(node, sessions[0] as Session, String(a['name']), Number(a['cycles']));
      case 'parallel': {
        const first = Number(a['first']);
        const workers = Array.from({ length: Number(a['count']) }, (_, k) => first + k);
        // Start together: wait for the agreed wall-clock instant, then run for `ms`.
        await new Promise((r) => setTimeout(r, Math.max(0, Number(a['startAtMs']) - Date.now())));
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const cycles = await runWorkers(node, sessions, workers, String(a['tag']), a['workload'] as Workload, t0 + Number(a['ms']));
        const cpu = process.cpuUsage(cpu0);
        return { cycles, elapsedMs: performance.now() - t0, cpuUs: cpu.user + cpu.system } satisfies ParallelRun;
      }
      case 'close':
        for (const s of sessions) await s.close().catch(() => undefined);
        await node.close();
        setImmediate(() => process.exit(0));
        return true;
      default:
        throw new Error(`unknown op ${req.op}`);
    }
  };
  process.on('message', (msg: Request) => {
    handle(msg).then(
      (value) => process.send?.({ id: msg.id, ok: true, value }),
      (err: unknown) => process.send?.({ id: msg.id, ok: false, error: String(err) }),
    );
  });
  process.on('disconnect', () => void node.close().finally(() => process.exit(0)));
  process.send?.({ started: true });
}

// ---------------------------------------------------------------------------------------------
// Parent side of the process rows.

class MemberProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly started: Promise<void>;
  readonly #pending = new PendingCalls();

  constructor(config: MemberConfig) {
    this.id = config.id;
    const execArgv = ['--import', 'tsx', ...(CPU_PROF_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`])];
    this.child = fork(new URL(import.meta.url).pathname, ['--member', JSON.stringify(config)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.id} did not start within ${MEMBER_START_TIMEOUT_MS} ms`)), MEMBER_START_TIMEOUT_MS);
      this.child.on('message', (msg: { started?: boolean; id?: number; ok?: boolean; value?: unknown; error?: string }) => {
        if (msg.started === true) {
          clearTimeout(timer);
          resolve();
          return;
        }
        if (msg.id === undefined) return;
        if (msg.ok === true) this.#pending.resolve(msg.id, msg.value);
        else this.#pending.reject(msg.id, new Error(`${this.id}: ${msg.error ?? 'failed'}`));
      });
      this.child.on('exit', () => {
        clearTimeout(timer);
        reject(new Error(`${this.id} exited`));
        this.#pending.rejectAll(new Error(`${this.id} exited`));
      });
    });
    this.started.catch(() => {});
  }

  call<T>(op: string, args: Record<string, number | string> = {}): Promise<T> {
    return this.#pending.call<T>((id) => this.child.send({ id, op, args }), IPC_TIMEOUT_MS, () => new Error(`${this.id}.${op}: no reply within ${IPC_TIMEOUT_MS} ms`));
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call('close').catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Splits `total` workers into `parts` contiguous ranges: [first, count] each. */
function split(total: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0, first = 0; p < parts; p++) {
    const count = Math.floor(total / parts) + (p < total % parts ? 1 : 0);
    out.push([first, count]);
    first += count;
  }
  return out;
}

/** One measured parallel run. */
interface Run {
  readonly rate: number;
  /** CPU of all members per cycle, µs (in-process rows: this whole process). */
  readonly cpuUsPerCycle: number;
  /** CPU of the leader's process alone per cycle, µs (process rows only). */
  readonly leaderCpuUsPerCycle?: number;
}

interface Rounds {
  readonly rates: number[];
  readonly cpu: number[];
  readonly baseRates: number[];
  readonly baseCpu: number[];
}

function describe(run: Run): string {
  const leader = run.leaderCpuUsPerCycle === undefined ? '' : `, leader ${Math.round(run.leaderCpuUsPerCycle)} µs`;
  return `${Math.round(run.rate)} cycles/s (CPU/cycle ${Math.round(run.cpuUsPerCycle)} µs${leader})`;
}

/**
 * Warm-up (JIT, connections, caches; not reported), then `ROUNDS` rounds of recipe + baseline,
 * alternating which goes first so neither always runs on the warmer or fuller cluster.
 */
async function parallelRounds(row: string, run: (workload: Workload, tag: string, ms?: number) => Promise<Run>, compact: () => Promise<unknown>): Promise<Rounds> {
  await run('recipe', 'warm-p', WARM_UP_MS);
  await run('baseline', 'warm-b', WARM_UP_MS);
  // Every run starts on a compacted history (as a deployment with periodic compaction would), so
  // the MVCC history and snapshots do not grow from run to run and penalize the later ones.
  const measured = async (workload: Workload, tag: string): Promise<Run> => {
    await compact();
    return run(workload, tag);
  };
  const out: Rounds = { rates: [], cpu: [], baseRates: [], baseCpu: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const recipeFirst = r % 2 === 0;
    const first = await measured(recipeFirst ? 'recipe' : 'baseline', `${recipeFirst ? 'p' : 'b'}${r}`);
    const second = await measured(recipeFirst ? 'baseline' : 'recipe', `${recipeFirst ? 'b' : 'p'}${r}`);
    const [lock, base] = recipeFirst ? [first, second] : [second, first];
    console.log(`  [${row}] round ${r + 1}: ${PARALLEL_LOCKS} locks in parallel ${describe(lock)}; raw baseline ${describe(base)}`);
    out.rates.push(lock.rate);
    out.cpu.push(lock.cpuUsPerCycle);
    out.baseRates.push(base.rate);
    out.baseCpu.push(base.cpuUsPerCycle);
  }
  return out;
}

async function parallelAcross(members: MemberProcess[], leader: MemberProcess, workload: Workload, tag: string, ms = PARALLEL_MS): Promise<Run> {
  const startAtMs = Date.now() + 200;
  const runs = await Promise.all(
    split(PARALLEL_LOCKS, members.length).map(([first, count], m) =>
      (members[m] as MemberProcess).call<ParallelRun>('parallel', { first, count, tag, workload, ms, startAtMs }),
    ),
  );
  const cycles = runs.reduce((s, r) => s + r.cycles, 0);
  const elapsedMs = Math.max(...runs.map((r) => r.elapsedMs));
  const cpuUs = runs.reduce((s, r) => s + r.cpuUs, 0);
  const leaderCpuUs = runs[members.indexOf(leader)]?.cpuUs ?? NaN;
  return { rate: cycles / (elapsedMs / 1000), cpuUsPerCycle: cpuUs / cycles, leaderCpuUsPerCycle: leaderCpuUs / cycles };
}

/**
 * Untimed rounds of the uncontended cycle on the leader and on a follower until their p50 settles
 * (bench/warm-up.ts: the member's JIT), then `ROUNDS` rounds of the measurement on the leader, then
 * on a follower; the p50 of each round.
 */
async function latencyRounds(row: string, measure: (where: 'leader' | 'follower', name: string) => Promise<Latency>): Promise<{ leader: number[]; follower: number[] }> {
  const out = { leader: [] as number[], follower: [] as number[] };
  const fmt = (l: Latency): string => `${l.p50.toFixed(2)}/${l.p90.toFixed(2)}/${l.p99.toFixed(2)} ms`;
  for (const where of ['leader', 'follower'] as const) {
    const p50s = await warmUntilSettled(async (i) => (await measure(where, `/bench/warm-${where}-${i}`)).p50);
    console.log(`  [${row}] warm-up on the ${where}, uncontended p50 ms per untimed round (${WARM_UP_RULE}): ${formatRounds(p50s)}`);
  }
  for (let r = 0; r < ROUNDS; r++) {
    const a = await measure('leader', `/bench/uncontended-l${r}`);
    const b = await measure('follower', `/bench/uncontended-f${r}`);
    console.log(`  [${row}] round ${r + 1}: uncontended p50/p90/p99 — leader ${fmt(a)}, follower ${fmt(b)}`);
    out.leader.push(a.p50);
    out.follower.push(b.p50);
  }
  return out;
}

function report(row: string, latency: { leader: number[]; follower: number[] }, r: Rounds): void {
  console.log(`${row}, median of ${ROUNDS}:`);
  console.log(`  uncontended acquire+release p50: ${median(latency.leader).toFixed(2)} ms on the leader, ${median(latency.follower).toFixed(2)} ms on a follower (target ≤ 2 ms)`);
  console.log(`  ${PARALLEL_LOCKS} distinct locks in parallel: ${Math.round(median(r.rates))} cycles/s, ${Math.round(median(r.cpu))} µs CPU/cycle (target ≥ 5,000)`);
  console.log(`  raw two-txn baseline: ${Math.round(median(r.baseRates))} cycles/s, ${Math.round(median(r.baseCpu))} µs CPU/cycle`);
}

async function benchProcesses(row: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-bench-recipes-'));
  const ids = ['b1', 'b2', 'b3'];
  const ports = await freePorts(ids.length);
  const peers: Record<string, string> = {};
  ids.forEach((id, i) => (peers[id] = `ws://127.0.0.1:${ports[i] as number}`));
  const members = ids.map((id) => new MemberProcess({ id, peers, ...(row === 'proc-file' ? { dataDir: join(dir, id) } : {}) }));
  const kill = (): void => {
    for (const m of members) m.child.kill('SIGKILL');
  };
  process.once('exit', kill);
  try {
    await Promise.all(members.map((m) => m.started));
    const roles = await Promise.all(members.map((m) => m.call<string>('role')));
    const leader = members[roles.indexOf('leader')] ?? (members[0] as MemberProcess);
    const follower = members.find((m) => m !== leader) as MemberProcess;
    await Promise.all(members.map((m) => m.call('sessions', { count: SESSIONS_PER_MEMBER })));
    const latency = await latencyRounds(row, (where, name) => (where === 'leader' ? leader : follower).call<Latency>('uncontended', { name, cycles: CYCLES }));
    const rounds = await parallelRounds(row, (workload, tag, ms) => parallelAcross(members, leader, workload, tag, ms), () => leader.call('compact'));
    report(row, latency, rounds);
  } finally {
    await Promise.all(members.map((m) => m.close()));
    process.off('exit', kill);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// In-process rows (the session-1 harness): 3 members and every worker in this process.

async function startInProcess(transport: 'memory' | 'ws'): Promise<QuorumNode[]> {
  const ids = ['b1', 'b2', 'b3'];
  const network = new MemoryNetwork();
  const ports = await freePorts(ids.length);
  const peers: Record<string, string> = {};
  ids.forEach((id, i) => (peers[id] = `ws://127.0.0.1:${ports[i] as number}`));
  const nodes = await Promise.all(
    ids.map((id) =>
      createNode({ id, peers, storage: memoryStorage(), ...(transport === 'memory' ? { transport: memoryTransport(network) } : {}), logger: quiet, ...NODE_LIMITS }),
    ),
  );
  await Promise.all(nodes.map((n) => n.ready()));
  return nodes;
}

async function parallelInProcess(nodes: QuorumNode[], sessions: Session[][], workload: Workload, tag: string, ms = PARALLEL_MS): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const deadlineMs = started + ms;
  const counts = await Promise.all(
    split(PARALLEL_LOCKS, nodes.length).map(([first, count], m) =>
      runWorkers(nodes[m] as QuorumNode, sessions[m] as Session[], Array.from({ length: count }, (_, k) => first + k), tag, workload, deadlineMs),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  const cycles = counts.reduce((s, c) => s + c, 0);
  return { rate: cycles / ((performance.now() - started) / 1000), cpuUsPerCycle: (cpu.user + cpu.system) / cycles };
}

async function benchInProcess(row: string, transport: 'memory' | 'ws'): Promise<void> {
  const nodes = await startInProcess(transport);
  const sessions: Session[][] = [];
  try {
    const leader = nodes.find((n) => n.status().role === 'leader') as QuorumNode;
    const follower = nodes.find((n) => n !== leader) as QuorumNode;
    for (const n of nodes) sessions.push(await Promise.all(Array.from({ length: SESSIONS_PER_MEMBER }, () => createSession(n, { ttlMs: SESSION_TTL_MS }))));
    const leaderSession = sessions[nodes.indexOf(leader)]?.[0] as Session;
    const followerSession = sessions[nodes.indexOf(follower)]?.[0] as Session;
    const latency = await latencyRounds(row, (where, name) =>
      where === 'leader' ? uncontended(leader, leaderSession, name, CYCLES) : uncontended(follower, followerSession, name, CYCLES),
    );
    const rounds = await parallelRounds(
      row,
      (workload, tag, ms) => parallelInProcess(nodes, sessions, workload, tag, ms),
      () => leader.compact(leader.status().revision),
    );
    report(row, latency, rounds);
  } finally {
    for (const s of sessions.flat()) await s.close().catch(() => undefined);
    for (const n of nodes) await n.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------

if (process.argv[2] === '--member') {
  await memberMain(JSON.parse(process.argv[3] ?? '{}') as MemberConfig);
} else {
  console.log(`recipes bench: rows ${ROWS.join(', ')}; ${ROUNDS} rounds, ${CYCLES} uncontended cycles, ${PARALLEL_MS} ms parallel runs`);
  for (const row of ROWS) {
    if (row === 'proc-file' || row === 'proc-memory') await benchProcesses(row);
    else if (row === 'inproc-memory') await benchInProcess(row, 'memory');
    else if (row === 'inproc-ws') await benchInProcess(row, 'ws');
    else throw new Error(`unknown row ${row} (proc-file, proc-memory, inproc-memory, inproc-ws)`);
  }
}
