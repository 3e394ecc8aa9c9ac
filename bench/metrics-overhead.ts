// What reading the metrics costs a loaded cluster, measured so that the machine's noise cancels:
// one 3-member cluster of member processes (wsTransport, fileStorage with fsync, default Raft
// timers, each member's client endpoint on a free loopback port), and rounds of the same put
// flood (256 in flight on the leader) that alternate between two arms in an ABBA order:
//   off: nobody reads the metrics;
//   on:  this process GETs every member's `/metrics` once a second, as a Prometheus scrape.
// Per round: puts/s (in the leader process, as bench:cluster's flood) and the CPU µs per put of
// the leader, of the followers (their mean) and of the whole cluster — process.cpuUsage() deltas
// of the member processes, which move less with other load than wall-clock figures; then the
// CPU per put of a paced part (PACED_RATE puts/s offered for PACED_MS), whose batches do not
// grow and shrink with the flood's throughput. The scrapes
// run in this process, so their client side is not counted. Prints the median and range of each
// arm, and the median of the per-pair ratios on/off (each pair ran back to back). Last, one
// scrape's member CPU measured directly on the idle cluster, as a share of the leader's CPU per
// second under the flood: the bound on the overhead that the floods' spread cannot resolve.
//
//   npm run bench:metrics-overhead                   # 8 pairs of 40,000-put rounds (~3 min)
//   QKV_BENCH_SCALE=0.3 npm run bench:metrics-overhead   # shorter rounds
//   QKV_OVERHEAD_PAIRS=16 npm run bench:metrics-overhead # more pairs
//   QKV_OVERHEAD_RATE=2000 npm run bench:metrics-overhead # the paced part's offered puts/s
import { rmSync } from 'node:fs';
import { syncCleanups } from './exit-cleanup.ts';
import { startProcCluster } from '../test/node/helpers/proc-cluster.ts';
import type { Member, ProcCluster } from '../test/node/helpers/proc-cluster.ts';
import { median, spread } from './stats.ts';

const scale = Number(process.env['QKV_BENCH_SCALE'] ?? 1);
const PAIRS = Number(process.env['QKV_OVERHEAD_PAIRS'] ?? 8);
const ROUND_PUTS = Math.max(2_000, Math.round(40_000 * scale));
const INFLIGHT = 256;
const SCRAPE_EVERY_MS = 1_000;
/** Offered load of each round's paced part (below what the slowest flood round reaches here). */
const PACED_RATE = Number(process.env['QKV_OVERHEAD_RATE'] ?? 3_000);
/** Length of each round's paced part. */
const PACED_MS = 4_000;
/** Untimed rounds before the first timed one (the member processes' JIT). */
const WARM_ROUNDS = 2;

type Arm = 'off' | 'on';

interface Round {
  readonly arm: Arm;
  readonly putsPerSec: number;
  readonly leaderCpuUsPerPut: number;
  readonly followerCpuUsPerPut: number;
  readonly clusterCpuUsPerPut: number;
  /** The same, for the paced part (PACED_RATE puts/s offered): batches as large in both arms. */
  readonly pacedLeaderCpuUsPerPut: number;
  readonly pacedClusterCpuUsPerPut: number;
  readonly scrapes: number;
}

async function cpuUs(m: Member): Promise<number> {
  const u = await m.call<{ user: number; system: number }>('cpu');
  return u.user + u.system;
}

/** GETs every URL's /metrics every SCRAPE_EVERY_MS until stopped; counts the scrapes answered. */
function startScraping(urls: readonly string[]): { stop(): Promise<{ scrapes: number; bytes: number }> } {
  let scrapes = 0;
  let bytes = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const scrapeAll = async (): Promise<void> => {
    await Promise.all(urls.map(async (url) => {
      const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${url}/metrics answered ${res.status}`);
      scrapes += 1;
      bytes += text.length;
    }));
  };
  const scrape = (): void => {
    inFlight = inFlight.then(scrapeAll).catch((err: unknown) => console.error(`scrape failed: ${String(err)}`));
  };
  // One scrape as the round starts, then one a second: even a short round is read at least once.
  scrape();
  const timer = setInterval(scrape, SCRAPE_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return { scrapes, bytes };
    },
  };
}

async function round(cluster: ProcCluster, urls: readonly string[], arm: Arm, prefix: string): Promise<Round & { bytes: number }> {
  const leader = await cluster.waitLeader(20_000);
  const members = [...cluster.members.values()];
  const followers = members.filter((m) => m !== leader);
  const scraping = arm === 'on' ? startScraping(urls) : undefined;
  const before = await Promise.all(members.map(cpuUs));
  const ms = await leader.call<number>('putFlood', { prefix, count: ROUND_PUTS, inflight: INFLIGHT }, 600_000);
  const middle = await Promise.all(members.map(cpuUs));
  const pacedPuts = Math.round((PACED_RATE * PACED_MS) / 1000);
  await leader.call<number>('putPaced', { prefix, count: pacedPuts, ratePerSec: PACED_RATE }, 600_000);
  const after = await Promise.all(members.map(cpuUs));
  const scraped = (await scraping?.stop()) ?? { scrapes: 0, bytes: 0 };
  const perPut = (from: number[], to: number[], puts: number) => (m: Member): number => {
    const i = members.indexOf(m);
    return ((to[i] ?? 0) - (from[i] ?? 0)) / puts;
  };
  const flood = perPut(before, middle, ROUND_PUTS);
  const paced = perPut(middle, after, pacedPuts);
  const sum = (f: (m: Member) => number): number => members.reduce((total, m) => total + f(m), 0);
  return {
    arm,
    putsPerSec: ROUND_PUTS / (ms / 1000),
    leaderCpuUsPerPut: flood(leader),
    followerCpuUsPerPut: followers.reduce((total, f) => total + flood(f), 0) / Math.max(1, followers.length),
    clusterCpuUsPerPut: sum(flood),
    pacedLeaderCpuUsPerPut: paced(leader),
    pacedClusterCpuUsPerPut: sum(paced),
    ...scraped,
  };
}

/** Scrapes in the direct measurement of one scrape's cost, per member. */
const COST_SCRAPES = 300;

/**
 * The member CPU one scrape costs, measured directly on the idle cluster (noise there is small):
 * COST_SCRAPES back-to-back GETs of each member's /metrics, minus what the members spend idle
 * (heartbeats) over the same time. µs of CPU per scrape, per member.
 */
async function scrapeCostUs(cluster: ProcCluster, urls: readonly string[]): Promise<number> {
  const members = [...cluster.members.values()];
  const total = async (): Promise<number> => (await Promise.all(members.map(cpuUs))).reduce((a, b) => a + b, 0);
  const scrapeEach = (count: number): Promise<void[]> => Promise.all(urls.map(async (url) => {
    for (let i = 0; i < count; i++) await (await fetch(`${url}/metrics`)).text();
  }));
  await scrapeEach(COST_SCRAPES / 5); // untimed: the members' HTTP and rendering code compiled
  const idleStart = await total();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 3_000));
  const idleUsPerMs = ((await total()) - idleStart) / (performance.now() - t0);
  const start = await total();
  const t1 = performance.now();
  await scrapeEach(COST_SCRAPES);
  const spent = (await total()) - start - idleUsPerMs * (performance.now() - t1);
  return spent / (COST_SCRAPES * urls.length);
}

function fmt(x: number, digits: number): string {
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function summary(rows: readonly Round[], pick: (r: Round) => number, digits: number): string {
  const xs = rows.map(pick);
  const s = spread(xs);
  return `${fmt(median(xs), digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** The median over pairs of on/off − 1, in percent (each pair ran back to back). */
function pairedChange(pairs: readonly [Round, Round][], pick: (r: Round) => number): string {
  const ratios = pairs.map(([off, on]) => (pick(on) / pick(off) - 1) * 100);
  const s = spread(ratios);
  const sign = (x: number): string => `${x >= 0 ? '+' : ''}${fmt(x, 1)} %`;
  return `${sign(median(ratios))} (${sign(s.min)} … ${sign(s.max)})`;
}

async function main(): Promise<void> {
  const cluster = await startProcCluster(3, { requestTimeoutMs: 10_000, client: { port: 0 } });
  syncCleanups.add(() => {
    for (const m of cluster.members.values()) m.kill();
    rmSync(cluster.dir, { recursive: true, force: true });
  });
  try {
    const urls = await Promise.all([...cluster.members.values()].map(async (m) => {
      const url = await m.call<string | null>('clientUrl');
      if (url === null) throw new Error(`${m.id} serves no client endpoint`);
      return url;
    }));
    console.error(`metrics overhead: 3 members, ${PAIRS} pairs of ${ROUND_PUTS} puts (${INFLIGHT} in flight), /metrics every ${SCRAPE_EVERY_MS} ms in "on" rounds`);
    for (let i = 0; i < WARM_ROUNDS; i++) await round(cluster, urls, i % 2 === 0 ? 'off' : 'on', '/warm/');
    const pairs: [Round, Round][] = [];
    let bytes = 0;
    for (let p = 0; p < PAIRS; p++) {
      // ABBA: the arm that runs first alternates, so a trend in the machine's load hits both.
      const order: Arm[] = p % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      const done: Partial<Record<Arm, Round>> = {};
      for (const arm of order) {
        const r = await round(cluster, urls, arm, '/flood/');
        bytes += r.bytes;
        done[arm] = r;
        console.error(`pair ${p + 1} ${arm}: ${fmt(r.putsPerSec, 0)} puts/s, CPU/put leader ${fmt(r.leaderCpuUsPerPut, 1)} µs, follower ${fmt(r.followerCpuUsPerPut, 1)} µs, cluster ${fmt(r.clusterCpuUsPerPut, 1)} µs; paced leader ${fmt(r.pacedLeaderCpuUsPerPut, 1)} µs, cluster ${fmt(r.pacedClusterCpuUsPerPut, 1)} µs; ${r.scrapes} scrapes`);
      }
      pairs.push([done.off as Round, done.on as Round]);
    }
    const off = pairs.map(([o]) => o);
    const on = pairs.map(([, o]) => o);
    const rows: [string, (r: Round) => number, number][] = [
      ['put throughput, 256 in flight (puts/s)', (r) => r.putsPerSec, 0],
      ['CPU per put, leader process (µs)', (r) => r.leaderCpuUsPerPut, 1],
      ['CPU per put, follower process (µs)', (r) => r.followerCpuUsPerPut, 1],
      ['CPU per put, whole cluster (µs)', (r) => r.clusterCpuUsPerPut, 1],
      [`CPU per put at ${PACED_RATE} puts/s offered, leader (µs)`, (r) => r.pacedLeaderCpuUsPerPut, 1],
      [`CPU per put at ${PACED_RATE} puts/s offered, whole cluster (µs)`, (r) => r.pacedClusterCpuUsPerPut, 1],
    ];
    const scrapes = on.reduce((sum, r) => sum + r.scrapes, 0);
    console.log(`\n${PAIRS} pairs of ${ROUND_PUTS}-put rounds, medians (ranges); ${scrapes} scrapes of ${fmt(bytes / Math.max(1, scrapes), 0)} B on average in the "on" rounds\n`);
    console.log('| row | metrics not read | `/metrics` scraped every second | paired change on/off |');
    console.log('|---|---|---|---|');
    for (const [name, pick, digits] of rows) console.log(`| ${name} | ${summary(off, pick, digits)} | ${summary(on, pick, digits)} | ${pairedChange(pairs, pick)} |`);
    // The floods' spread hides a small cost; the direct measurement bounds it instead.
    const cost = await scrapeCostUs(cluster, urls);
    const leaderUsPerSec = median(off.map((r) => r.leaderCpuUsPerPut)) * median(off.map((r) => r.putsPerSec));
    console.log(`\none scrape costs a member ${fmt(cost, 0)} µs of CPU (${COST_SCRAPES} scrapes per member on the idle cluster, idle CPU subtracted);`);
    console.log(`once a second that is ${fmt((cost / leaderUsPerSec) * 100, 3)} % of the ${fmt(leaderUsPerSec / 1000, 0)} ms of CPU per second the leader spends in the median "off" flood`);
  } finally {
    await cluster.closeAll();
  }
}

await main();
