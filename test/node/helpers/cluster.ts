// Helpers for in-process clusters: N members on one MemoryNetwork with in-memory storage and
// short timers. Not a test file.
import { createNode } from '../../../src/create-node.ts';
import type { QuorumNode } from '../../../src/node/node.ts';
import type { NodeOptions } from '../../../src/node/options.ts';
import type { MemoryStorage } from '../../../src/storage/memory-storage.ts';
import { MemoryNetwork, memoryTransport } from '../../../src/transport/memory-transport.ts';
import { memoryStorage } from '../../../src/storage/memory-storage.ts';

export const FAST = Object.freeze({ heartbeatMs: 20, electionTimeoutMs: 150, requestTimeoutMs: 3_000, closeTimeoutMs: 500 });

export function newStorage(): MemoryStorage {
  return memoryStorage();
}

export function peerUrls(ids: readonly string[]): Record<string, string> {
  return Object.fromEntries(ids.map((id, i) => [id, `ws://127.0.0.1:${17000 + i}`]));
}

export interface Cluster {
  readonly net: MemoryNetwork;
  readonly nodes: Map<string, QuorumNode>;
  readonly storages: Map<string, MemoryStorage>;
  readonly peers: Record<string, string>;
  leader(): QuorumNode | undefined;
  waitLeader(timeoutMs?: number, except?: string): Promise<QuorumNode>;
  start(id: string, extra?: Partial<NodeOptions>): Promise<QuorumNode>;
  closeAll(): Promise<void>;
}

export async function startCluster(n: number, extra: Partial<NodeOptions> = {}): Promise<Cluster> {
  const net = new MemoryNetwork({ seed: 7 });
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const peers = peerUrls(ids);
  const nodes = new Map<string, QuorumNode>();
  const storages = new Map<string, MemoryStorage>();
  const cluster: Cluster = {
    net,
    nodes,
    storages,
    peers,
    leader() {
      for (const node of nodes.values()) {
        const st = node.status();
        if (st.role === 'leader') return node;
      }
      return undefined;
    },
    async waitLeader(timeoutMs = 3_000, except?: string) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        for (const node of nodes.values()) {
          if (node.id !== except && node.status().role === 'leader') return node;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no leader elected in time');
    },
    async start(id: string, more: Partial<NodeOptions> = {}) {
      // A restart reopens what the previous incarnation synced (memory storage cannot be reopened).
      const previous = storages.get(id);
      const storage = previous === undefined ? newStorage() : previous.crash();
      storages.set(id, storage);
      const node = await createNode({ id, peers, storage, transport: memoryTransport(net), logger: quietLogger, ...FAST, ...extra, ...more } as NodeOptions);
      nodes.set(id, node);
      return node;
    },
    async closeAll() {
      await Promise.all([...nodes.values()].map((node) => node.close().catch(() => {})));
      nodes.clear();
    },
  };
  await Promise.all(ids.map((id) => cluster.start(id)));
  return cluster;
}

import { sleep } from '../../helpers/time.ts';
export { sleep };

/** Polls `cond` every 5 ms until true or throws after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const log = (level: string) => (obj: object, msg: string) => process.stderr.write(`[${level}] ${msg} ${JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? v.stack : v))}\n`);
/** Quiet unless QKV_TEST_LOG=1. */
export const quietLogger = process.env['QKV_TEST_LOG'] === '1'
  ? Object.freeze({ debug() {}, info() {}, warn: log('warn'), error: log('error') })
  : Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });
