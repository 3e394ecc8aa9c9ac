/**
 * `npm run bench:recipes` — lock recipe throughput and latency on a 3-member cluster in this
 * process (memory storage; the memory transport, then the ws transport over loopback).
 *
 * 1. Uncontended acquire + release of one lock, sequential, with a shared session (one txn to
 *    acquire, one to release): per-cycle latency percentiles. Target p50 ≤ 2 ms.
 * 2. 1,000 distinct locks in parallel (1,000 concurrent workers, each cycling its own lock, 10
 *    shared sessions): cycles per second. Target ≥ 5,000 cycles/s.
 * Each measurement is repeated `QKV_BENCH_ROUNDS` times (default 3) and the median is reported.
 * Options: QKV_BENCH_CYCLES (default 300), QKV_BENCH_PARALLEL_MS (default 2000),
 * QKV_BENCH_TRANSPORTS (default "memory,ws").
 */
import { acquireLock, cmp, createNode, createSession, MemoryNetwork, memoryStorage, memoryTransport, op } from '../src/index.ts';
import type { QuorumNode, Session } from '../src/index.ts';

const ROUNDS = Number(process.env['QKV_BENCH_ROUNDS'] ?? 3);
const CYCLES = Number(process.env['QKV_BENCH_CYCLES'] ?? 300);
const PARALLEL_MS = Number(process.env['QKV_BENCH_PARALLEL_MS'] ?? 2_000);
const PARALLEL_LOCKS = 1_000;
const TRANSPORTS = (process.env['QKV_BENCH_TRANSPORTS'] ?? 'memory,ws').split(',');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function startCluster(kind: string): Promise<QuorumNode[]> {
  const ids = ['b1', 'b2', 'b3'];
  const network = new MemoryNetwork();
  const peers: Record<string, string> = {};
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  ids.forEach((id, i) => (peers[id] = `ws://127.0.0.1:${base + i}`));
  const nodes = await Promise.all(
    ids.map((id) =>
      createNode({
        id,
        peers,
        storage: memoryStorage(),
        ...(kind === 'memory' ? { transport: memoryTransport(network) } : {}),
        logger: quiet,
        maxPendingProposals: 50_000,
        maxPendingReads: 50_000,
      }),
    ),
  );
  await Promise.all(nodes.map((n) => n.ready()));
  return nodes;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function uncontended(node: QuorumNode, session: Session, round: number): Promise<{ p50: number; p90: number; p99: number }> {
  const samples: number[] = [];
  const name = `/bench/uncontended-${round}`;
  for (let i = 0; i < 20; i++) await (await acquireLock(node, name, { session })).release(); // warm-up
  for (let i = 0; i < CYCLES; i++) {
    const t0 = performance.now();
    const lock = await acquireLock(node, name, { session });
    await lock.release();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p90: percentile(samples, 90), p99: percentile(samples, 99) };
}

async function parallel(nodes: QuorumNode[], sessions: Session[][], round: number): Promise<number> {
  let cycles = 0;
  const deadline = performance.now() + PARALLEL_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: PARALLEL_LOCKS }, async (_, i) => {
      const member = i % nodes.length;
      const node = nodes[member] as QuorumNode;
      const session = sessions[member]?.[i % 10] as Session;
      while (performance.now() < deadline) {
        const lock = await acquireLock(node, `/bench/parallel-${round}/${i}`, { session });
        await lock.release();
        cycles++;
      }
    }),
  );
  return cycles / ((performance.now() - started) / 1000);
}

/**
 * Baseline: the same two txns per cycle as a lock acquire + release (create-if-absent with an owner
 * read, then a compare-guarded delete), issued directly — the node's cost without the recipe.
 */
async function baseline(nodes: QuorumNode[], sessions: Session[][], round: number): Promise<number> {
  let cycles = 0;
  const deadline = performance.now() + PARALLEL_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: PARALLEL_LOCKS }, async (_, i) => {
      const member = i % nodes.length;
      const node = nodes[member] as QuorumNode;
      const leaseId = (sessions[member]?.[i % 10] as Session).leaseId;
      const prefix = `/bench/baseline-${round}/${i}/`;
      const key = `${prefix}${leaseId.toString(16)}`;
      while (performance.now() < deadline) {
        const res = await node
          .txn()
          .if(cmp.createRevision(key, '==', 0))
          .then(op.put(key, '', { lease: leaseId }), op.range({ prefix }, { sort: { by: 'createRevision', order: 'asc' }, limit: 1 }))
          .else(op.get(key))
          .commit();
        await node.txn().if(cmp.createRevision(key, '==', res.revision)).then(op.delete(key)).commit();
        cycles++;
      }
    }),
  );
  return cycles / ((performance.now() - started) / 1000);
}

async function benchTransport(kind: string): Promise<void> {
  const nodes = await startCluster(kind);
  try {
    const leader = nodes.find((n) => n.status().role === 'leader') as QuorumNode;
    const follower = nodes.find((n) => n.status().role !== 'leader') as QuorumNode;
    const leaderSession = await createSession(leader, { ttlMs: 30_000 });
    const followerSession = await createSession(follower, { ttlMs: 30_000 });
    const onLeader: number[] = [];
    const onFollower: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const a = await uncontended(leader, leaderSession, r);
      const b = await uncontended(follower, followerSession, r);
      console.log(`  [${kind}] round ${r + 1}: uncontended acquire+release p50/p90/p99 — on leader ${a.p50.toFixed(2)}/${a.p90.toFixed(2)}/${a.p99.toFixed(2)} ms, on follower ${b.p50.toFixed(2)}/${b.p90.toFixed(2)}/${b.p99.toFixed(2)} ms`);
      onLeader.push(a.p50);
      onFollower.push(b.p50);
    }
    const sessions = await Promise.all(nodes.map((n) => Promise.all(Array.from({ length: 10 }, () => createSession(n, { ttlMs: 30_000 })))));
    const rates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const rate = await parallel(nodes, sessions, r);
      console.log(`  [${kind}] round ${r + 1}: ${PARALLEL_LOCKS} distinct locks in parallel — ${Math.round(rate)} cycles/s`);
      rates.push(rate);
    }
    const baseRates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const rate = await baseline(nodes, sessions, r);
      console.log(`  [${kind}] round ${r + 1}: baseline, the same 2 txns per cycle without the recipe — ${Math.round(rate)} cycles/s`);
      baseRates.push(rate);
    }
    console.log(`${kind} transport, median of ${ROUNDS}:`);
    console.log(`  uncontended acquire+release p50: ${median(onLeader).toFixed(2)} ms on the leader, ${median(onFollower).toFixed(2)} ms on a follower (target ≤ 2 ms)`);
    console.log(`  ${PARALLEL_LOCKS} distinct locks in parallel: ${Math.round(median(rates))} cycles/s (target ≥ 5,000); raw txn baseline ${Math.round(median(baseRates))} cycles/s`);
    for (const s of sessions.flat()) await s.close();
    await leaderSession.close();
    await followerSession.close();
  } finally {
    for (const n of nodes) await n.close().catch(() => undefined);
  }
}

console.log(`recipes bench: 3-member cluster in one process, memory storage; ${ROUNDS} rounds, ${CYCLES} cycles, ${PARALLEL_MS} ms parallel runs`);
for (const kind of TRANSPORTS) await benchTransport(kind);
