// Proves a key deleted by its TTL running out is etcd v2's `expire`, and a deleted key is
// `delete`, to a v2 long poll waiting at the time and to one replayed from history (waitIndex),
// for a file and for a TTL directory; and that below the v2 API the node's watch tells the two
// apart by `endedLease` alone (the lease that ended), with the deleted key carrying no lease, as
// etcd's delete events. A single-member in-process node (election timeout 300 ms, so the lease
// floor is 450 ms) on memory storage, fetch on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clientUrlOf, createNode, memoryStorage } from '../../src/index.ts';
import type { QuorumNode, WatchEvent } from '../../src/index.ts';
import { rawCodec } from '../../src/gateway/values.ts';

let node: QuorumNode;
let url = '';

type Json = Record<string, unknown>;

async function v2(method: string, path: string, form?: Record<string, string>, timeoutMs = 10_000): Promise<{ status: number; json: Json }> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs) };
  if (form !== undefined) {
    init.body = new URLSearchParams(form).toString();
    init.headers = { 'content-type': 'application/x-www-form-urlencoded' };
  }
  const res = await fetch(`${url}${path}`, init);
  return { status: res.status, json: JSON.parse(await res.text()) as Json };
}

const nodeOf = (r: { json: Json }): Json => r.json['node'] as Json;
const prevOf = (r: { json: Json }): Json => r.json['prevNode'] as Json;

test.before(async () => {
  node = await createNode({ id: 'x1', storage: memoryStorage(), electionTimeoutMs: 300, heartbeatMs: 30, codec: rawCodec, client: { port: 0 } });
  await node.ready({ timeoutMs: 10_000 });
  url = clientUrlOf(node) ?? '';
});

test.after(async () => {
  await node.close();
});

test('a waiting long poll sees a TTL run out as expire, with the value in prevNode', async () => {
  const set = await v2('PUT', '/v2/keys/exp/a', { value: 'soon gone', ttl: '1' });
  assert.is(set.status, 201);
  const waited = await v2('GET', '/v2/keys/exp/a?wait=true', undefined, 15_000);
  assert.is(waited.status, 200);
  assert.is(waited.json['action'], 'expire');
  assert.is(nodeOf(waited)['key'], '/exp/a');
  assert.is(nodeOf(waited)['createdIndex'], nodeOf(set)['createdIndex']);
  assert.is(prevOf(waited)['value'], 'soon gone');
  assert.is((await v2('GET', '/v2/keys/exp/a')).json['errorCode'], 100);
  // The same change replayed from history is still an expiry.
  const replayed = await v2('GET', `/v2/keys/exp/a?wait=true&waitIndex=${Number(nodeOf(set)['modifiedIndex']) + 1}`);
  assert.is(replayed.json['action'], 'expire');
  assert.is(nodeOf(replayed)['modifiedIndex'], nodeOf(waited)['modifiedIndex']);
});

test('a key with a TTL that is deleted is a delete, live and replayed', async () => {
  const set = await v2('PUT', '/v2/keys/exp/b', { value: 'v', ttl: '30' });
  const waiting = v2('GET', '/v2/keys/exp/b?wait=true');
  await new Promise((r) => setTimeout(r, 100));
  const removed = await v2('DELETE', '/v2/keys/exp/b');
  assert.is(removed.json['action'], 'delete');
  const live = await waiting;
  assert.is(live.json['action'], 'delete');
  assert.is(prevOf(live)['value'], 'v');
  const replayed = await v2('GET', `/v2/keys/exp/b?wait=true&waitIndex=${Number(nodeOf(set)['modifiedIndex']) + 1}`);
  assert.is(replayed.json['action'], 'delete');
});

test('a TTL directory runs out as one expire of the directory to a recursive wait', async () => {
  assert.is((await v2('PUT', '/v2/keys/expdir', { dir: 'true', ttl: '1' })).status, 201);
  await v2('PUT', '/v2/keys/expdir/inner', { value: 'x' });
  const waited = await v2('GET', '/v2/keys/expdir?wait=true&recursive=true', undefined, 15_000);
  assert.is(waited.json['action'], 'expire');
  assert.is(nodeOf(waited)['key'], '/expdir');
  assert.is(nodeOf(waited)['dir'], true);
});

test("the node's watch marks a lease's end with endedLease, a delete request not at all", async () => {
  const start = (await node.status()).revision + 1;
  const lease = await node.grantLease(500);
  await node.put('/node/leased', new TextEncoder().encode('a'), { lease: lease.id });
  await node.put('/node/plain', new TextEncoder().encode('b'), { lease: lease.id });
  await node.delete('/node/plain');
  await node.revokeLease(lease.id);
  const events: WatchEvent<unknown>[] = [];
  const watch = node.watch({ prefix: '/node/' }, { startRevision: start, prevKv: true });
  for await (const ev of watch) {
    events.push(ev);
    if (events.length === 4) break;
  }
  const deletes = events.filter((e) => e.type === 'delete');
  assert.equal(deletes.map((e) => [e.kv.key, e.endedLease]), [['/node/plain', undefined], ['/node/leased', lease.id]]);
  for (const e of deletes) assert.is(e.kv.lease, undefined, 'a deleted key has no lease');
  assert.is(deletes[1]?.prevKv?.lease, lease.id);
});

test.run();
