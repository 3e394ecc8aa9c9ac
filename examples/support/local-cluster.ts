/**
 * A 3-member cluster inside one process, for the examples: each member is a real Raft member with
 * memory storage, linked by the in-memory transport. In production each member lives in its own
 * service process and talks over `wsTransport` (see examples/demo.ts).
 */
import { createNode, memoryStorage, memoryTransport, MemoryNetwork } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';

export interface LocalCluster {
  readonly nodes: QuorumNode[];
  readonly network: MemoryNetwork;
  /** The member that is leader now. */
  leader(): QuorumNode;
  /** A member that is not the leader. */
  follower(): QuorumNode;
  close(): Promise<void>;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A member's role, or 'closed'. */
export function roleOf(node: QuorumNode): string {
  return node.closed ? 'closed' : node.status().role;
}

/** Starts `size` members (`n1`…) and resolves once they agree on a leader. */
export async function startLocalCluster(size = 3): Promise<LocalCluster> {
  const network = new MemoryNetwork();
  const peers: Record<string, string> = {};
  // Addresses are required by the API but unused by the in-memory transport.
  for (let i = 1; i <= size; i++) peers[`n${i}`] = `ws://127.0.0.1:${7000 + i}`;
  const nodes = await Promise.all(
    Object.keys(peers).map((id) =>
      createNode({ id, peers, storage: memoryStorage(), transport: memoryTransport(network), logger: quiet, heartbeatMs: 20, electionTimeoutMs: 200, closeTimeoutMs: 500 }),
    ),
  );
  await Promise.all(nodes.map((n) => n.ready()));
  const leader = (): QuorumNode => {
    const l = nodes.find((n) => roleOf(n) === 'leader');
    if (l === undefined) throw new Error('no leader right now');
    return l;
  };
  return {
    nodes,
    network,
    leader,
    follower: () => {
      const f = nodes.find((n) => roleOf(n) === 'follower');
      if (f === undefined) throw new Error('no follower');
      return f;
    },
    close: async () => {
      // Followers first: the leader then has nobody to hand leadership to and stops at once.
      const order = [...nodes].sort((a, b) => Number(roleOf(a) === 'leader') - Number(roleOf(b) === 'leader'));
      for (const n of order) await n.close().catch(() => undefined);
    },
  };
}

/** `console.log` with a tag, so interleaved members stay readable. */
export function say(tag: string, message: string): void {
  console.log(`${tag.padEnd(10)} ${message}`);
}
