// Shared helpers of the recipe tests: single members and in-process clusters with fast timings,
// bounded waits, and a spy that records the watches a recipe opens.
import { createNode, MemoryNetwork, memoryStorage, memoryTransport } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';

/** Fast Raft timings for tests: lease TTL floor = 1.5 × electionTimeoutMs = 300 ms. */
export const FAST = Object.freeze({ heartbeatMs: 20, electionTimeoutMs: 200 });

const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startSingle(id = 'n1'): Promise<QuorumNode> {
  const node = await createNode({ id, storage: memoryStorage(), logger: quietLogger, ...FAST });
  await node.ready();
  return node;
}

export interface TestCluster {
  readonly nodes: QuorumNode[];
  readonly network: MemoryNetwork;
  leader(): QuorumNode;
  close(): Promise<void>;
}

export async function startCluster(size = 3, seed = 1): Promise<TestCluster> {
  const network = new MemoryNetwork({ seed });
  const peers: Record<string, string> = {};
  for (let i = 1; i <= size; i++) peers[`n${i}`] = `ws://127.0.0.1:${17_000 + i}`;
  const nodes = await Promise.all(
    Object.keys(peers).map((id) => createNode({ id, peers, storage: memoryStorage(), transport: memoryTransport(network), logger: quietLogger, ...FAST })),
  );
  await withTimeout(Promise.all(nodes.map((n) => n.ready())), 10_000, 'cluster ready');
  return {
    nodes,
    network,
    leader: () => {
      const l = nodes.find((n) => n.status().role === 'leader');
      if (l === undefined) throw new Error('no leader');
      return l;
    },
    close: async () => {
      await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
    },
  };
}

/** Rejects if `p` does not settle within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`test: ${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

import { sleep } from '../helpers/time.ts';
export { sleep };

/** Polls `cond` every 10 ms until true, or throws after `ms`. */
export async function eventually(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`test: ${what} not true within ${ms} ms`);
    await sleep(10);
  }
}

/**
 * `node` with `watch` wrapped to record the range of every watch opened through it — to check
 * that a waiter watches only its predecessor.
 */
export function spyWatches(node: QuorumNode): { node: QuorumNode; watched: string[] } {
  const watched: string[] = [];
  const proxy = new Proxy(node, {
    get(target, prop, receiver) {
      if (prop === 'watch') {
        return (range: unknown, options?: unknown) => {
          watched.push(typeof range === 'string' ? range : JSON.stringify(range));
          return (target.watch as (r: unknown, o?: unknown) => unknown).call(target, range, options);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { node: proxy, watched };
}

/**
 * `node` with every method call counted by name (`txn`, `range`, `get`, `watch`, `put`,
 * `keepAliveLease`, …) — to check how many requests a recipe makes. `reset()` zeroes the counts.
 */
export function spyCalls(node: QuorumNode): { node: QuorumNode; calls: Map<string, number>; reset(): void } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(node, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { node: proxy, calls, reset: () => calls.clear() };
}

/**
 * `node` with a `grantLease` that takes `delayMs` first — but, like the node, gives up as soon as
 * the caller's signal aborts: for tests of timeouts that must also bound a session's grant.
 */
export function withSlowGrant(node: QuorumNode, delayMs: number): QuorumNode {
  return new Proxy(node, {
    get(target, prop, receiver) {
      if (prop === 'grantLease') {
        return async (ttlMs: number, options?: { signal?: AbortSignal }) => {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delayMs);
            options?.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
          });
          return target.grantLease(ttlMs, options);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
