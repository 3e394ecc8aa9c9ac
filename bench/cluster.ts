// End-to-end cluster benchmark: 3 member processes on loopback (wsTransport, fileStorage with
// fsync, default Raft timers), driven over IPC; every timing is taken inside the member process
// so IPC is not measured. Prints a Markdown table of medians.
//
//   npm run bench:cluster                     # defaults
//   QKV_BENCH_SCALE=0.2 npm run bench:cluster # shorter run
//
// The etcd side-by-side run needs the `etcd` binary and the `etcd3` npm client; when either is
// missing (the case on our machines) the table says so instead of guessing.
import { execFileSync } from 'node:child_process';
import { startProcCluster } from '../test/node/helpers/proc-cluster.ts';
import type { Member, Status } from '../test/node/helpers/proc-cluster.ts';

const scale = Number(process.env['QKV_BENCH_SCALE'] ?? 1);
const SEQ_PUTS = Math.max(100, Math.round(2_000 * scale));
const FLOOD_PUTS = Math.max(1_000, Math.round(30_000 * scale));
const LIN_GETS = Math.max(1_000, Math.round(60_000 * scale));
const SER_GETS = Math.max(10_000, Math.round(1_000_000 * scale));
const FAILOVERS = 3;
const OPTIONS = { requestTimeoutMs: 10_000 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function leaderOf(members: Member[]): Promise<Member> {
  for (;;) {
    for (const m of members) {
      if (m.exited) continue;
      const st = await m.call<Status>('status', {}, 2_000).catch(() => undefined);
      if (st?.role === 'leader') return m;
    }
    await sleep(2);
  }
}

function etcdAvailable(): boolean {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const c = await startProcCluster(3, OPTIONS);
  const rows: [string, string, string][] = [];
  try {
    const members = [...c.members.values()];
    await Promise.all(members.map((m) => m.call('ready', { timeoutMs: 20_000 })));
    let leader = await leaderOf(members);
    const follower = members.find((m) => m !== leader)!;

    await leader.call('putMany', { prefix: '/warm/', count: 200 }, 60_000);
    const lat = await leader.call<number[]>('putMany', { prefix: '/seq/', count: SEQ_PUTS }, 120_000);
    rows.push(['sequential put latency p50 (leader)', `${(percentile(lat, 50) / 1000).toFixed(3)} ms`, '≤ 0.6 ms']);
    rows.push(['sequential put latency p99 (leader)', `${(percentile(lat, 99) / 1000).toFixed(3)} ms`, '—']);
    const flLat = await follower.call<number[]>('putMany', { prefix: '/seqf/', count: Math.round(SEQ_PUTS / 2) }, 120_000);
    rows.push(['sequential put latency p50 (follower, forwarded)', `${(percentile(flLat, 50) / 1000).toFixed(3)} ms`, '—']);

    const putRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ms = await leader.call<number>('putFlood', { prefix: `/flood${i}/`, count: FLOOD_PUTS, inflight: 256 }, 300_000);
      putRuns.push(FLOOD_PUTS / (ms / 1000));
    }
    rows.push(['put throughput, 256 in flight (leader)', `${Math.round(median(putRuns)).toLocaleString('en-US')} puts/s`, '≥ 25,000']);

    await leader.call('put', { key: '/read', value: 'x' });
    const linRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ms = await leader.call<number>('getFlood', { key: '/read', count: LIN_GETS, inflight: 256, consistency: 'linearizable' }, 300_000);
      linRuns.push(LIN_GETS / (ms / 1000));
    }
    rows.push(['linearizable get throughput (leader, 256 in flight)', `${Math.round(median(linRuns)).toLocaleString('en-US')} gets/s`, '≥ 100,000']);
    const linF = await follower.call<number>('getFlood', { key: '/read', count: Math.round(LIN_GETS / 2), inflight: 256, consistency: 'linearizable' }, 300_000);
    rows.push(['linearizable get throughput (follower, 256 in flight)', `${Math.round(LIN_GETS / 2 / (linF / 1000)).toLocaleString('en-US')} gets/s`, '—']);
    const serRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ms = await leader.call<number>('getFlood', { key: '/read', count: SER_GETS, inflight: 64, consistency: 'serializable' }, 300_000);
      serRuns.push(SER_GETS / (ms / 1000));
    }
    rows.push(['serializable get throughput (leader)', `${Math.round(median(serRuns)).toLocaleString('en-US')} gets/s`, '≥ 1,000,000']);

    // Failover: kill -9 the leader, time until another member reports itself leader; restart it.
    const failovers: number[] = [];
    for (let i = 0; i < FAILOVERS; i++) {
      leader = await leaderOf([...c.members.values()]);
      const t = Date.now();
      leader.kill();
      const next = await leaderOf([...c.members.values()].filter((m) => m !== leader));
      failovers.push(Date.now() - t);
      const restarted = await c.start(leader.id);
      await restarted.call('ready', { timeoutMs: 20_000 });
      void next;
      await sleep(500);
    }
    rows.push(['failover after kill -9 of the leader (default timers)', `${median(failovers)} ms (runs: ${failovers.join(', ')})`, '≤ 2,000 ms']);
  } finally {
    await c.closeAll();
  }
  const etcd = etcdAvailable() ? 'etcd binary found, but the etcd3 npm client is not installed: side-by-side not run' : 'not run: no `etcd` binary on PATH (Debian etcd-server) and no etcd3 client';
  console.log('\n| metric (3 members, loopback, fsync on) | quorumkv | target |');
  console.log('|---|---|---|');
  for (const [name, value, target] of rows) console.log(`| ${name} | ${value} | ${target} |`);
  console.log(`\netcd comparison: ${etcd}.`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
