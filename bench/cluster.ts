// End-to-end cluster benchmark, quorumkv and (when installed) etcd side by side, same workload:
// 3 members on loopback with fsync on and default Raft timers (heartbeat 100 ms, election 1 s).
//   quorumkv: 3 member processes (wsTransport, fileStorage), driven over IPC; every timing except
//             failover is taken inside the member process (in-process API, IPC not measured).
//   etcd:     3 `etcd` processes (bench/etcd-cluster.ts), driven through the `etcd3` gRPC client
//             from this process; timings include the client and gRPC.
// Each side gets untimed sequential puts until their latency settles (warmSeqPuts: the member
// processes' JIT) and an untimed warm-up flood (a fifth of a flood) before its 3 timed floods.
// Before either side starts, bench/disk-floor.ts measures the disk's share of a put on this machine;
// after the quorumkv side, the same cluster on memoryStorage gives the put latency without the disk.
// Prints one Markdown table of medians with a quorumkv / etcd ratio column. The CPU-per-put rows
// (quorumkv only) are process.cpuUsage() deltas of the leader and one follower over each flood.
//
//   npm run bench:cluster                        # defaults (~3 min on the loaded 2-core VM)
//   QKV_BENCH_SCALE=0.3 npm run bench:cluster    # shorter run
//   QKV_ETCD_BIN=/path/to/etcd                   # etcd binary (default: `etcd` on PATH)
//   QKV_BENCH_ETCD=0                             # skip the etcd side
//   QKV_MEMBER_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof'  # node flags for member processes
import { syncCleanups } from './exit-cleanup.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureDiskFloor } from './disk-floor.ts';
import type { DiskFloor } from './disk-floor.ts';
import { formatRounds, WARM_UP_RULE, warmUntilSettled } from './warm-up.ts';
import { etcdClient, EtcdCluster, etcdVersion } from './etcd-cluster.ts';
import { startProcCluster } from '../test/node/helpers/proc-cluster.ts';
import type { Member, ProcCluster } from '../test/node/helpers/proc-cluster.ts';
import { median, percentile } from './stats.ts';

const scale = Number(process.env['QKV_BENCH_SCALE'] ?? 1);
const etcdBin = process.env['QKV_ETCD_BIN'] ?? 'etcd';
const INFLIGHT = 256;
const REPEATS = 3;
const FAILOVERS = 3;
/** Failover: a new put attempt every this many ms after the kill, each with its own deadline. */
const FAILOVER_ATTEMPT_EVERY_MS = 25;
const FAILOVER_ATTEMPT_DEADLINE_MS = 1_000;
/** Failover: give up (the run fails) when no put succeeded within this bound. */
const FAILOVER_BOUND_MS = 20_000;
const QKV_OPTIONS = { requestTimeoutMs: 10_000 };
/** Sequential-put warm-up (warmSeqPuts): rounds of this many puts, at every scale (shorter rounds stop before the JIT is done: the noise between them hides the trend). */
const WARM_ROUND_PUTS = 500;
/** The disk floor (bench/disk-floor.ts): rounds of three concurrent durable writes. */
const DISK_FLOOR_ROUNDS = Math.max(200, Math.round(600 * scale));

/** Operation counts per side (throughputs are count / elapsed, so the counts need not match). */
interface Counts {
  readonly seqPuts: number;
  readonly floodPuts: number;
  readonly linGets: number;
  readonly serGets: number;
}
const n = (base: number, min: number): number => Math.max(min, Math.round(base * scale));
const SEQ_PUTS = n(1_000, 100);
const FLOOD_PUTS = n(10_000, 1_000);
const QKV_COUNTS: Counts = { seqPuts: SEQ_PUTS, floodPuts: FLOOD_PUTS, linGets: n(60_000, 1_000), serGets: n(1_000_000, 10_000) };
// The etcd3/grpc-js client costs ~1.5–2 ms of CPU per call on the 2-core VM, so etcd's floods get
// smaller counts to keep the default run under ~3 minutes on the loaded VM.
const ETCD_COUNTS: Counts = { seqPuts: SEQ_PUTS, floodPuts: n(5_000, 1_000), linGets: n(5_000, 1_000), serGets: n(5_000, 1_000) };

type Where = 'leader' | 'follower';
type Consistency = 'linearizable' | 'serializable';

/** One system under test. Every method times its own work and returns µs (latencies) or ms. */
interface Side {
  seqPuts(where: Where, prefix: string, count: number): Promise<number[]>;
  putFlood(prefix: string, count: number, inflight: number): Promise<number>;
  getFlood(where: Where, key: string, count: number, inflight: number, consistency: Consistency): Promise<number>;
  /** kill -9 the leader; ms until a put succeeds on a survivor; then restart it and wait healthy. */
  failover(round: number): Promise<number>;
  /** CPU µs per put of the last putFlood, in the leader and in a follower process (when measurable). */
  lastFloodCpu?(): { readonly leader: number; readonly follower: number } | undefined;
  close(): Promise<void>;
}

interface Results {
  warmupP50sMs?: number[];
  followerWarmupP50sMs?: number[];
  putP50Ms?: number;
  putP99Ms?: number;
  putFollowerP50Ms?: number;
  putsPerSec?: number;
  leaderCpuPerPut?: number;
  followerCpuPerPut?: number;
  linLeaderPerSec?: number;
  linFollowerPerSec?: number;
  serLeaderPerSec?: number;
  failoverMs?: number;
  failoverRunsMs?: number[];
  error?: string;
  skipped?: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `count` calls of `op` with `inflight` outstanding at a time; returns elapsed ms. */
async function flood(count: number, inflight: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return performance.now() - t;
}

/**
 * Calls `kill`, then starts a put attempt every FAILOVER_ATTEMPT_EVERY_MS (each bounded by its own
 * deadline, so one stuck on the dead leader does not hold up the next); resolves with the ms from
 * the kill to the first successful attempt.
 */
function timeUntilPut(kill: () => void, attempt: (i: number) => Promise<unknown>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    kill();
    let done = false;
    let i = 0;
    const finish = (): void => {
      done = true;
      clearInterval(timer);
    };
    const fire = (): void => {
      if (done) return;
      if (performance.now() - t0 > FAILOVER_BOUND_MS) {
        finish();
        reject(new Error(`no put succeeded within ${FAILOVER_BOUND_MS} ms of the kill`));
        return;
      }
      attempt(i++).then(
        () => {
          if (done) return;
          finish();
          resolve(performance.now() - t0);
        },
        () => {},
      );
    };
    const timer = setInterval(fire, FAILOVER_ATTEMPT_EVERY_MS);
    fire();
  });
}

/** Untimed sequential puts in rounds of WARM_ROUND_PUTS until their p50 settles (bench/warm-up.ts). */
function warmSeqPuts(side: Side, where: Where, prefix: string): Promise<number[]> {
  return warmUntilSettled(async (round) => percentile(await side.seqPuts(where, `${prefix}${round}/`, WARM_ROUND_PUTS), 50) / 1000);
}

/** The same workload against either side. Fills `r` as it goes, so a failure keeps what ran. */
async function runWorkload(side: Side, c: Counts, r: Results): Promise<void> {
  r.warmupP50sMs = await warmSeqPuts(side, 'leader', '/warm/');
  const lat = await side.seqPuts('leader', '/seq/', c.seqPuts);
  r.putP50Ms = percentile(lat, 50) / 1000;
  r.putP99Ms = percentile(lat, 99) / 1000;
  r.followerWarmupP50sMs = await warmSeqPuts(side, 'follower', '/warmf/');
  const fLat = await side.seqPuts('follower', '/seqf/', Math.round(c.seqPuts / 2));
  r.putFollowerP50Ms = percentile(fLat, 50) / 1000;

  const puts: number[] = [];
  const leaderCpu: number[] = [];
  const followerCpu: number[] = [];
  // Untimed warm-up flood on both sides (a fifth of a flood): the sequential puts above do not
  // exercise the 256-in-flight path, so the first timed flood used to include JIT warm-up
  // (quorumkv) and connection/stream ramp-up (etcd's client).
  await side.putFlood('/warm-flood/', Math.round(c.floodPuts / 5), INFLIGHT);
  for (let i = 0; i < REPEATS; i++) {
    puts.push(c.floodPuts / ((await side.putFlood(`/flood${i}/`, c.floodPuts, INFLIGHT)) / 1000));
    const cpu = side.lastFloodCpu?.();
    if (cpu !== undefined) {
      leaderCpu.push(cpu.leader);
      followerCpu.push(cpu.follower);
    }
  }
  r.putsPerSec = median(puts);
  if (leaderCpu.length > 0) {
    r.leaderCpuPerPut = median(leaderCpu);
    r.followerCpuPerPut = median(followerCpu);
  }

  await side.seqPuts('leader', '/read', 1); // writes the key '/read0' that every get reads
  const lin: number[] = [];
  for (let i = 0; i < REPEATS; i++) lin.push(c.linGets / ((await side.getFlood('leader', '/read0', c.linGets, INFLIGHT, 'linearizable')) / 1000));
  r.linLeaderPerSec = median(lin);
  const linF = Math.round(c.linGets / 2);
  r.linFollowerPerSec = linF / ((await side.getFlood('follower', '/read0', linF, INFLIGHT, 'linearizable')) / 1000);
  const ser: number[] = [];
  for (let i = 0; i < REPEATS; i++) ser.push(c.serGets / ((await side.getFlood('leader', '/read0', c.serGets, INFLIGHT, 'serializable')) / 1000));
  r.serLeaderPerSec = median(ser);

  const failovers: number[] = [];
  r.failoverRunsMs = failovers;
  for (let i = 0; i < FAILOVERS; i++) failovers.push(await side.failover(i));
  r.failoverMs = median(failovers);
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
class QuorumSide implements Side {
  readonly #c: ProcCluster;
  #leader: Member;
  #follower: Member;
  #floodCpu: { readonly leader: number; readonly follower: number } | undefined;
  readonly #cleanup: () => void;

  private constructor(c: ProcCluster, leader: Member, follower: Member, cleanup: () => void) {
    this.#c = c;
    this.#leader = leader;
    this.#follower = follower;
    this.#cleanup = cleanup;
  }

  /** `storage: 'memory'` starts the members on memoryStorage (no disk; member-process.ts reads the env at fork). */
  static async start(storage: 'file' | 'memory' = 'file'): Promise<QuorumSide> {
    const previous = process.env['QKV_MEMBER_STORAGE'];
    if (storage === 'memory') process.env['QKV_MEMBER_STORAGE'] = 'memory';
    else delete process.env['QKV_MEMBER_STORAGE'];
    let c: Awaited<ReturnType<typeof startProcCluster>>;
    try {
      c = await startProcCluster(3, QKV_OPTIONS);
    } finally {
      if (previous === undefined) delete process.env['QKV_MEMBER_STORAGE'];
      else process.env['QKV_MEMBER_STORAGE'] = previous;
    }
    const cleanup = (): void => {
      for (const m of c.members.values()) m.kill();
      rmSync(c.dir, { recursive: true, force: true });
    };
    syncCleanups.add(cleanup);
    try {
      await Promise.all([...c.members.values()].map((m) => m.call('ready', { timeoutMs: 20_000 }, 30_000)));
      const leader = await c.waitLeader(20_000);
      const follower = [...c.members.values()].find((m) => m !== leader)!;
      return new QuorumSide(c, leader, follower, cleanup);
    } catch (err) {
      syncCleanups.delete(cleanup);
      await c.closeAll();
      throw err;
    }
  }

  #at(where: Where): Member {
    return where === 'leader' ? this.#leader : this.#follower;
  }

  seqPuts(where: Where, prefix: string, count: number): Promise<number[]> {
    return this.#at(where).call<number[]>('putMany', { prefix, count }, 300_000);
  }

  async putFlood(prefix: string, count: number, inflight: number): Promise<number> {
    const cpu = (m: Member): Promise<number> => m.call<{ user: number; system: number }>('cpu').then((u) => u.user + u.system);
    const [l0, f0] = await Promise.all([cpu(this.#leader), cpu(this.#follower)]);
    const ms = await this.#leader.call<number>('putFlood', { prefix, count, inflight }, 300_000);
    const [l1, f1] = await Promise.all([cpu(this.#leader), cpu(this.#follower)]);
    this.#floodCpu = { leader: (l1 - l0) / count, follower: (f1 - f0) / count };
    return ms;
  }

  lastFloodCpu(): { readonly leader: number; readonly follower: number } | undefined {
    return this.#floodCpu;
  }

  getFlood(where: Where, key: string, count: number, inflight: number, consistency: Consistency): Promise<number> {
    return this.#at(where).call<number>('getFlood', { key, count, inflight, consistency }, 300_000);
  }

  async failover(round: number): Promise<number> {
    const victim = await this.#c.waitLeader(20_000);
    const survivor = [...this.#c.members.values()].find((m) => m !== victim && !m.exited)!;
    const ms = await timeUntilPut(
      () => victim.kill(),
      (i) => survivor.call('put', { key: `/failover${round}/${i}`, value: i, timeoutMs: FAILOVER_ATTEMPT_DEADLINE_MS }, FAILOVER_ATTEMPT_DEADLINE_MS + 1_000),
    );
    const restarted = await this.#c.start(victim.id);
    await restarted.call('ready', { timeoutMs: 20_000 }, 30_000);
    this.#leader = await this.#c.waitLeader(20_000);
    this.#follower = [...this.#c.members.values()].find((m) => m !== this.#leader && !m.exited)!;
    await sleep(500);
    return ms;
  }

  async close(): Promise<void> {
    await this.#c.closeAll();
    syncCleanups.delete(this.#cleanup);
  }
}

// ---------------------------------------------------------------------------------------------
type Client = ReturnType<typeof etcdClient>;

class EtcdSide implements Side {
  readonly #cluster: EtcdCluster;
  #leaderUrl: string;
  #leader: Client;
  #follower: Client;
  readonly #cleanup: () => void;

  private constructor(cluster: EtcdCluster, leaderUrl: string, cleanup: () => void) {
    this.#cluster = cluster;
    this.#cleanup = cleanup;
    this.#leaderUrl = leaderUrl;
    this.#leader = etcdClient([leaderUrl], 30_000);
    this.#follower = etcdClient([cluster.clientUrls.find((u) => u !== leaderUrl)!], 30_000);
  }

  static async start(): Promise<EtcdSide> {
    let cluster: EtcdCluster | undefined;
    const cleanup = (): void => cluster?.killAllSync();
    syncCleanups.add(cleanup);
    try {
      cluster = await EtcdCluster.start(etcdBin, 3, 30_000);
      const leaderUrl = await cluster.leaderUrl();
      if (leaderUrl === undefined) throw new Error('etcd reported no leader after start');
      return new EtcdSide(cluster, leaderUrl, cleanup);
    } catch (err) {
      syncCleanups.delete(cleanup);
      await cluster?.stop();
      throw err;
    }
  }

  #at(where: Where): Client {
    return where === 'leader' ? this.#leader : this.#follower;
  }

  async seqPuts(where: Where, prefix: string, count: number): Promise<number[]> {
    const client = this.#at(where);
    const lat: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = process.hrtime.bigint();
      await client.put(`${prefix}${i}`).value(String(i)).exec();
      lat.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    return lat;
  }

  putFlood(prefix: string, count: number, inflight: number): Promise<number> {
    return flood(count, inflight, (i) => this.#leader.put(`${prefix}${i}`).value(String(i)).exec());
  }

  getFlood(where: Where, key: string, count: number, inflight: number, consistency: Consistency): Promise<number> {
    const client = this.#at(where);
    const serializable = consistency === 'serializable';
    return flood(count, inflight, () => client.get(key).serializable(serializable).string());
  }

  async failover(round: number): Promise<number> {
    const victim = this.#leaderUrl;
    const survivors = etcdClient(
      this.#cluster.clientUrls.filter((u) => u !== victim),
      FAILOVER_ATTEMPT_DEADLINE_MS,
    );
    try {
      await survivors.put(`/failover${round}/warm`).value('x').exec(); // connect before timing
      const ms = await timeUntilPut(
        () => void this.#cluster.kill(victim),
        (i) => survivors.put(`/failover${round}/${i}`).value(String(i)).exec(),
      );
      await this.#cluster.kill(victim);
      this.#cluster.restart(victim);
      await this.#cluster.waitHealthy(30_000);
      await this.#reconnect();
      await sleep(500);
      return ms;
    } finally {
      survivors.close();
    }
  }

  async #reconnect(): Promise<void> {
    const leaderUrl = await this.#cluster.leaderUrl();
    if (leaderUrl === undefined) throw new Error('etcd has no leader after restart');
    this.#leader.close();
    this.#follower.close();
    this.#leaderUrl = leaderUrl;
    this.#leader = etcdClient([leaderUrl], 30_000);
    this.#follower = etcdClient([this.#cluster.clientUrls.find((u) => u !== leaderUrl)!], 30_000);
  }

  async close(): Promise<void> {
    this.#leader.close();
    this.#follower.close();
    await this.#cluster.stop();
    syncCleanups.delete(this.#cleanup);
  }
}

/**
 * The same 3 member processes on memoryStorage: warm sequential puts on the leader, p50 in ms.
 * Everything but the disk is the same, so this is what the network, the processes and our code
 * cost per put on this machine.
 */
async function measureNoDisk(): Promise<{ p50Ms: number; warmupP50sMs: number[] } | { error: string }> {
  let side: QuorumSide | undefined;
  try {
    side = await QuorumSide.start('memory');
    const warmupP50sMs = await warmSeqPuts(side, 'leader', '/warm/');
    const p50Ms = percentile(await side.seqPuts('leader', '/seq/', QKV_COUNTS.seqPuts), 50) / 1000;
    return { p50Ms, warmupP50sMs };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  } finally {
    await side?.close().catch((err: unknown) => console.error(`no-disk close failed: ${String(err)}`));
  }
}

// ---------------------------------------------------------------------------------------------
async function measure(name: string, start: () => Promise<Side>, counts: Counts): Promise<Results> {
  const r: Results = {};
  const t = performance.now();
  let side: Side | undefined;
  try {
    side = await start();
    await runWorkload(side, counts, r);
  } catch (err) {
    r.error = err instanceof Error ? err.message : String(err);
    console.error(`${name} side failed: ${r.error}`);
  } finally {
    await side?.close().catch((err: unknown) => console.error(`${name} close failed: ${String(err)}`));
  }
  console.error(`${name} side: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return r;
}

const ms = (x: number): string => `${x.toFixed(3)} ms`;
const perSec = (unit: string) => (x: number): string => `${Math.round(x).toLocaleString('en-US')} ${unit}`;

interface RowSpec {
  readonly metric: string;
  readonly pick: (r: Results) => number | undefined;
  readonly format: (x: number) => string;
  readonly better: 'lower' | 'higher';
  readonly target: string;
  /** Append the individual failover runs. */
  readonly runs?: boolean;
}

const ROWS: readonly RowSpec[] = [
  { metric: 'sequential put latency p50 (leader)', pick: (r) => r.putP50Ms, format: ms, better: 'lower', target: '≤ 0.6 ms' },
  { metric: 'sequential put latency p99 (leader)', pick: (r) => r.putP99Ms, format: ms, better: 'lower', target: '—' },
  { metric: 'sequential put latency p50 (follower)', pick: (r) => r.putFollowerP50Ms, format: ms, better: 'lower', target: '—' },
  { metric: `put throughput, ${INFLIGHT} in flight (leader)`, pick: (r) => r.putsPerSec, format: perSec('puts/s'), better: 'higher', target: '≥ 25,000' },
  { metric: `CPU per put in the leader process (${INFLIGHT} in flight)`, pick: (r) => r.leaderCpuPerPut, format: (x) => `${Math.round(x)} µs`, better: 'lower', target: '—' },
  { metric: `CPU per put in a follower process (${INFLIGHT} in flight)`, pick: (r) => r.followerCpuPerPut, format: (x) => `${Math.round(x)} µs`, better: 'lower', target: '—' },
  { metric: `linearizable get throughput (leader, ${INFLIGHT} in flight)`, pick: (r) => r.linLeaderPerSec, format: perSec('gets/s'), better: 'higher', target: '≥ 100,000' },
  { metric: `linearizable get throughput (follower, ${INFLIGHT} in flight)`, pick: (r) => r.linFollowerPerSec, format: perSec('gets/s'), better: 'higher', target: '—' },
  { metric: `serializable get throughput (leader, ${INFLIGHT} in flight)`, pick: (r) => r.serLeaderPerSec, format: perSec('gets/s'), better: 'higher', target: '≥ 1,000,000' },
  { metric: 'failover: kill -9 leader → next put succeeds', pick: (r) => r.failoverMs, format: (x) => `${Math.round(x).toLocaleString('en-US')} ms`, better: 'lower', target: '≤ 2,000 ms', runs: true },
];

type NoDisk = Awaited<ReturnType<typeof measureNoDisk>>;

function printTable(qkv: Results, etcd: Results, etcdName: string, floor: DiskFloor, noDisk: NoDisk): void {
  const runs = (r: Results): string => (r.failoverRunsMs?.length ? ` (runs: ${r.failoverRunsMs.map((x) => Math.round(x)).join(', ')})` : '');
  console.log(`\n| metric (3 members, loopback, fsync on) | quorumkv | ${etcdName} | quorumkv / etcd | better | quorumkv target |`);
  console.log('|---|---|---|---|---|---|');
  for (const row of ROWS) {
    const q = row.pick(qkv);
    const e = row.pick(etcd);
    const extraQ = row.runs === true ? runs(qkv) : '';
    const extraE = row.runs === true ? runs(etcd) : '';
    const ratio = q !== undefined && e !== undefined && e > 0 ? `${(q / e).toFixed(2)}×` : '—';
    console.log(`| ${row.metric} | ${q === undefined ? '—' : row.format(q) + extraQ} | ${e === undefined ? '—' : row.format(e) + extraE} | ${ratio} | ${row.better} | ${row.target} |`);
  }
  console.log('\nquorumkv / etcd: below 1× is better for "lower" rows (latency, failover), above 1× is better for "higher" rows (throughput).');
  console.log(
    `Sequential-put warm-up, p50 ms of each untimed round of ${WARM_ROUND_PUTS} (${WARM_UP_RULE}): ` +
      `quorumkv leader ${formatRounds(qkv.warmupP50sMs)}, follower ${formatRounds(qkv.followerWarmupP50sMs)}; ` +
      `etcd leader ${formatRounds(etcd.warmupP50sMs)}, follower ${formatRounds(etcd.followerWarmupP50sMs)}.`,
  );
  console.log(
    `Disk floor of a put on this machine (bench/disk-floor.ts): one 250-byte durable write with 3 writers at once, ` +
      `p50 ${ms(floor.p50Ms)}, p90 ${ms(floor.p90Ms)} (${floor.samples} writes).`,
  );
  console.log(
    'error' in noDisk
      ? `The same quorumkv cluster on memoryStorage (no disk) failed: ${noDisk.error}`
      : `The same quorumkv cluster on memoryStorage (no disk, all else equal): sequential put p50 ${ms(noDisk.p50Ms)} on the leader ` +
          `(warm-up rounds ${formatRounds(noDisk.warmupP50sMs)}).`,
  );
  if (qkv.error !== undefined) console.log(`quorumkv side failed: ${qkv.error}`);
  if (etcd.skipped !== undefined) console.log(`etcd side skipped: ${etcd.skipped}`);
  if (etcd.error !== undefined) console.log(`etcd side failed: ${etcd.error}`);
}

async function main(): Promise<number> {
  console.error(`scale ${scale}; quorumkv counts ${JSON.stringify(QKV_COUNTS)}; etcd counts ${JSON.stringify(ETCD_COUNTS)}`);
  const floorDir = mkdtempSync(join(tmpdir(), 'qkv-disk-floor-'));
  const removeFloorDir = (): void => rmSync(floorDir, { recursive: true, force: true });
  syncCleanups.add(removeFloorDir);
  let floor: DiskFloor;
  try {
    floor = await measureDiskFloor(floorDir, DISK_FLOOR_ROUNDS);
  } finally {
    removeFloorDir();
    syncCleanups.delete(removeFloorDir);
  }
  const qkv = await measure('quorumkv', () => QuorumSide.start(), QKV_COUNTS);
  const noDisk = await measureNoDisk();
  const version = process.env['QKV_BENCH_ETCD'] === '0' ? undefined : etcdVersion(etcdBin);
  let etcd: Results;
  if (process.env['QKV_BENCH_ETCD'] === '0') etcd = { skipped: 'QKV_BENCH_ETCD=0' };
  else if (version === undefined) etcd = { skipped: `no runnable \`${etcdBin}\` binary (install Debian etcd-server, or set QKV_ETCD_BIN)` };
  else etcd = await measure('etcd', () => EtcdSide.start(), ETCD_COUNTS);
  printTable(qkv, etcd, version === undefined ? 'etcd' : `etcd ${version}`, floor, noDisk);
  return qkv.error === undefined && etcd.error === undefined ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
