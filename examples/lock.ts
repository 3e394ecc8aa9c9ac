/**
 * Distributed lock: three workers, one per member, take turns incrementing a shared counter.
 * Each increment is a txn fenced with `cmp.owns(lock)`, so even a holder whose lease expired
 * during a pause could not write. Run: `npm run example:lock`.
 */
import { acquireLock, cmp, op } from '../src/index.ts';
import type { QuorumNode } from '../src/index.ts';
import { say, startLocalCluster } from './support/local-cluster.ts';

const ROUNDS = 3;

async function worker(name: string, node: QuorumNode): Promise<number[]> {
  const tokens: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await using lock = await acquireLock(node, '/locks/counter', { ttlMs: 2_000, timeoutMs: 10_000 });
    tokens.push(lock.fencingToken);
    const current = (await node.get<number>('/counter'))?.value ?? 0;
    // The write only applies while this holder's lock key still exists.
    const res = await node.txn().if(cmp.owns(lock)).then(op.put('/counter', current + 1)).commit();
    say(name, `holds the lock (fencing token ${lock.fencingToken}), counter ${current} → ${current + 1}${res.succeeded ? '' : ' REJECTED'}`);
  }
  return tokens;
}

const cluster = await startLocalCluster(3);
try {
  const results = await Promise.all(cluster.nodes.map((node, i) => worker(`worker-${i + 1}`, node)));
  const final = (await cluster.nodes[0]?.get<number>('/counter'))?.value;
  say('result', `counter = ${final} (expected ${3 * ROUNDS}); tokens per worker: ${results.map((t) => t.join(',')).join(' | ')}`);
  if (final !== 3 * ROUNDS) throw new Error('lost update');
} finally {
  await cluster.close();
}
