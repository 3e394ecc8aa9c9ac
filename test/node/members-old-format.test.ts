// Proves that data dirs written before members had replicated attributes (test/fixtures/members-v0:
// snapshots with an id → URL member record only, conf-change contexts with one URL) still open:
// copies of the three members start, elect a leader, list every member with its one peer URL and
// its id as name, serve the old keys, then publish client URLs over that old state; a member
// restarted afterwards, advertising nothing, still lists them (read back from the log and
// snapshots it wrote since) and does not clear its own.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { fileStorage } from '../../src/storage/file-storage.ts';
import { MemoryNetwork, memoryTransport } from '../../src/transport/memory-transport.ts';
import { quietLogger, sleep, until } from './helpers/cluster.ts';

const fixture = new URL('../fixtures/members-v0/', import.meta.url);
const peers = { o1: 'ws://127.0.0.1:27101', o2: 'ws://127.0.0.1:27102', o3: 'ws://127.0.0.1:27103' };
const dir = mkdtempSync(join(tmpdir(), 'qkv-members-v0-'));
const net = new MemoryNetwork({ seed: 3 });
const nodes = new Map<string, QuorumNode>();

function start(id: string): Promise<QuorumNode> {
  return createNode({ id, peers, storage: fileStorage(join(dir, id), { segmentBytes: 16384 }), transport: memoryTransport(net), logger: quietLogger, heartbeatMs: 20, electionTimeoutMs: 200 });
}

test.after(async () => {
  await Promise.all([...nodes.values()].map((n) => n.close().catch(() => {})));
  rmSync(dir, { recursive: true, force: true });
});

test('older data dirs open, list every member, serve the old keys and take published attributes', async () => {
  for (const id of Object.keys(peers)) cpSync(new URL(`${id}/`, fixture), join(dir, id), { recursive: true });
  for (const id of Object.keys(peers)) nodes.set(id, await start(id));
  await Promise.all([...nodes.values()].map((n) => n.ready({ timeoutMs: 10_000 })));
  for (const n of nodes.values()) {
    assert.equal(
      n.status().members.map((m) => [m.id, m.name, m.url, m.peerUrls, m.clientUrls]),
      Object.entries(peers).map(([id, url]) => [id, id, url, [url], []]),
      `members on ${n.id}`,
    );
  }
  const o1 = nodes.get('o1')!;
  assert.equal((await o1.range({ prefix: 'k' })).kvs.map((kv) => kv.value).sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const n of nodes.values()) n.cluster.advertise([`http://127.0.0.1:${18100 + Number(n.id.slice(1))}`]);
  const published = (n: QuorumNode): boolean => n.status().members.every((m) => m.clientUrls[0] === `http://127.0.0.1:${18100 + Number(m.id.slice(1))}`);
  await until(() => [...nodes.values()].every(published), 5_000, 'client URLs published everywhere');
  // o3 restarted without advertising anything: the cluster still lists what it published.
  await nodes.get('o3')!.close();
  nodes.set('o3', await start('o3'));
  await nodes.get('o3')!.ready({ timeoutMs: 10_000 });
  await until(() => published(nodes.get('o3')!), 5_000, 'o3 reads the attributes back');
  // A member that advertises nothing leaves what the cluster holds for it (it publishes only
  // when told its client URLs): after a few election timeouts every member still lists them.
  await sleep(800);
  for (const n of nodes.values()) assert.ok(published(n), `${n.id}: ${JSON.stringify(n.status().members)}`);
});

test.run();
