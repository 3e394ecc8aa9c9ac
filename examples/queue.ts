/**
 * Distributed work queue: producers on two members enqueue jobs (some urgent, priority 0; the
 * rest priority 5); consumers on all three members dequeue concurrently. Every job is handled
 * exactly once, urgent ones first. Run: `npm run example:queue`.
 */
import { createQueue } from '../src/index.ts';
import type { QuorumNode } from '../src/index.ts';
import { say, startLocalCluster } from './support/local-cluster.ts';

interface Job {
  readonly id: string;
  readonly urgent: boolean;
}

const JOBS_PER_PRODUCER = 10;

async function produce(name: string, node: QuorumNode): Promise<void> {
  const queue = createQueue<Job>(node, '/queues/jobs');
  for (let i = 0; i < JOBS_PER_PRODUCER; i++) {
    const urgent = i % 4 === 0;
    await queue.enqueue({ id: `${name}-${i}`, urgent }, { priority: urgent ? 0 : 5 });
  }
  say(name, `enqueued ${JOBS_PER_PRODUCER} jobs`);
}

async function consume(name: string, node: QuorumNode, handled: Map<string, string>, signal: AbortSignal): Promise<void> {
  const queue = createQueue<Job>(node, '/queues/jobs');
  for (;;) {
    let item;
    try {
      item = await queue.dequeue({ signal });
    } catch {
      return; // aborted: no more work
    }
    if (handled.has(item.value.id)) throw new Error(`job ${item.value.id} handled twice`);
    handled.set(item.value.id, name);
    say(name, `took ${item.value.id}${item.value.urgent ? ' (urgent)' : ''}`);
  }
}

const cluster = await startLocalCluster(3);
try {
  const [n1, n2, n3] = cluster.nodes as [QuorumNode, QuorumNode, QuorumNode];
  // Producers fill the queue first so the priority order is visible, then consumers drain it.
  await Promise.all([produce('producer-a', n1), produce('producer-b', n2)]);
  const handled = new Map<string, string>();
  const stop = new AbortController();
  const consumers = [n1, n2, n3].map((node, i) => consume(`consumer-${i + 1}`, node, handled, stop.signal));
  const deadline = Date.now() + 10_000;
  while (handled.size < 2 * JOBS_PER_PRODUCER && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  stop.abort();
  await Promise.all(consumers);
  const perConsumer = new Map<string, number>();
  for (const who of handled.values()) perConsumer.set(who, (perConsumer.get(who) ?? 0) + 1);
  say('result', `${handled.size}/${2 * JOBS_PER_PRODUCER} jobs handled exactly once: ${[...perConsumer].map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (handled.size !== 2 * JOBS_PER_PRODUCER) throw new Error('jobs missing');
} finally {
  await cluster.close();
}
