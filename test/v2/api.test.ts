// Proves the etcd v2 keys API over HTTP on an in-process member: etcd's reply shapes, statuses
// and headers for set/get/create/update/compareAndSwap/delete, directories (mkdir, listing,
// persistence after their last child, 102/104/105/107/108), TTLs as leases, in-order POSTs, long
// polls (waitIndex, recursive, 401 below the compaction point), one keyspace with the node's own
// (v3) API in both directions, the members/machines/stats routes, and etcd's errors for bad input
// (malformed forms, unknown fields, bad numbers, oversized values, missing token) while the member
// keeps serving. Single-member nodes on memory storage, fetch on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clientUrlOf, createNode, memoryStorage } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import { op } from '../../src/node/txn-builder.ts';
import { MAX_LIST_KEYS } from '../../src/v2/read.ts';

let node: QuorumNode;
let url = '';
let appNode: QuorumNode;
let appUrl = '';
let tokenNode: QuorumNode;
let tokenUrl = '';

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
}

async function v2(method: string, path: string, form?: Record<string, string> | string, base = url, headers: Record<string, string> = {}): Promise<Reply> {
  const body = form === undefined ? undefined : typeof form === 'string' ? form : new URLSearchParams(form).toString();
  const init: RequestInit = { method, headers: body === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers } };
  if (body !== undefined) init.body = body;
  const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const nodeOf = (r: Reply): Record<string, unknown> => r.json['node'] as Record<string, unknown>;
const prevOf = (r: Reply): Record<string, unknown> => r.json['prevNode'] as Record<string, unknown>;

function assertError(r: Reply, status: number, errorCode: number, cause?: string | RegExp): void {
  const shown = JSON.stringify(r.json).slice(0, 300);
  assert.is(r.status, status, shown);
  assert.is(r.json['errorCode'], errorCode, shown);
  assert.type(r.json['message'], 'string');
  assert.type(r.json['index'], 'number');
  if (typeof cause === 'string') assert.is(r.json['cause'], cause);
  else if (cause !== undefined) assert.match(String(r.json['cause']), cause);
}

test.before(async () => {
  const base = { storage: memoryStorage(), electionTimeoutMs: 300, heartbeatMs: 30 };
  node = await createNode({ ...base, id: 'v1', codec: rawCodec, maxRequestBytes: 4096, client: { port: 0, maxRequestBytes: 4096, requestOverheadBytes: 1024 } });
  appNode = await createNode({ ...base, storage: memoryStorage(), id: 'app', client: { port: 0 } });
  tokenNode = await createNode({ ...base, storage: memoryStorage(), id: 'tok', codec: rawCodec, client: { port: 0, token: 'sekret' } });
  await Promise.all([node.ready({ timeoutMs: 10_000 }), appNode.ready({ timeoutMs: 10_000 }), tokenNode.ready({ timeoutMs: 10_000 })]);
  url = clientUrlOf(node) ?? '';
  appUrl = clientUrlOf(appNode) ?? '';
  tokenUrl = clientUrlOf(tokenNode) ?? '';
});

test.after(async () => {
  await Promise.all([node?.close(), appNode?.close(), tokenNode?.close()]);
});

test('set, get, create, update, compareAndSwap: shapes, statuses, headers, indexes = v3 revisions + 1', async () => {
  const set = await v2('PUT', '/v2/keys/k/a', { value: 'one' });
  assert.is(set.status, 201);
  assert.is(set.json['action'], 'set');
  const kv = await node.get<Uint8Array>('/k/a');
  assert.ok(kv);
  assert.is(Buffer.from(kv.value).toString(), 'one');
  assert.equal(nodeOf(set), { key: '/k/a', value: 'one', modifiedIndex: kv.modRevision + 1, createdIndex: kv.createRevision + 1 });
  assert.is(set.headers.get('x-etcd-index'), String(node.status().revision + 1));
  assert.ok(Number(set.headers.get('x-raft-index')) > 0);
  assert.ok(Number(set.headers.get('x-raft-term')) > 0);

  const again = await v2('PUT', '/v2/keys/k/a', { value: 'two' });
  assert.is(again.status, 200);
  assert.is(prevOf(again)['value'], 'one');
  const got = await v2('GET', '/v2/keys/k/a');
  assert.is(got.status, 200);
  assert.equal(got.json['action'], 'get');
  assert.is(nodeOf(got)['value'], 'two');
  assert.is(nodeOf(got)['createdIndex'], kv.createRevision + 1);

  assertError(await v2('PUT', '/v2/keys/k/a', { value: 'x', prevExist: 'false' }), 412, 105, '/k/a');
  assertError(await v2('PUT', '/v2/keys/k/none', { value: 'x', prevExist: 'true' }), 404, 100, '/k/none');
  const created = await v2('PUT', '/v2/keys/k/b', { value: 'b', prevExist: 'false' });
  assert.is(created.status, 201);
  assert.is(created.json['action'], 'create');
  const updated = await v2('PUT', '/v2/keys/k/b', { value: 'bb', prevExist: 'true' });
  assert.is(updated.json['action'], 'update');

  assertError(await v2('PUT', '/v2/keys/k/b', { value: 'c', prevValue: 'nope' }), 412, 101, '[nope != bb]');
  const index = nodeOf(updated)['modifiedIndex'] as number;
  assertError(await v2('PUT', '/v2/keys/k/b', { value: 'c', prevIndex: '1' }), 412, 101, `[1 != ${index}]`);
  const cas = await v2('PUT', '/v2/keys/k/b', { value: 'c', prevValue: 'bb', prevIndex: String(index) });
  assert.is(cas.status, 200);
  assert.is(cas.json['action'], 'compareAndSwap');
  assertError(await v2('GET', '/v2/keys/k/missing'), 404, 100, '/k/missing');
});

test('directories: mkdir, listing (sorted, recursive), persistence, 102/104/105/107/108', async () => {
  const mk = await v2('PUT', '/v2/keys/d1', { dir: 'true', prevExist: 'false' });
  assert.is(mk.status, 201);
  assert.is(nodeOf(mk)['dir'], true);
  assert.ok(await node.get('/d1/'), 'a directory is its marker key');
  assertError(await v2('PUT', '/v2/keys/d1', { dir: 'true', prevExist: 'false' }), 412, 105, '/d1');
  assertError(await v2('PUT', '/v2/keys/d1', { dir: 'true' }), 403, 102, '/d1');
  assertError(await v2('PUT', '/v2/keys/d1', { value: 'x' }), 403, 102, '/d1');
  await v2('PUT', '/v2/keys/d1/z', { value: 'z' });
  await v2('PUT', '/v2/keys/d1/a/deep', { value: 'deep' });
  await v2('PUT', '/v2/keys/d1/m', { value: 'm' });
  const flat = await v2('GET', '/v2/keys/d1?sorted=true');
  const kids = (nodeOf(flat)['nodes'] as Record<string, unknown>[]).map((n) => [n['key'], n['dir'] === true]);
  assert.equal(kids, [['/d1/a', true], ['/d1/m', false], ['/d1/z', false]]);
  assert.is((nodeOf(flat)['nodes'] as Record<string, unknown>[])[0]?.['nodes'], undefined, 'not recursive: no grandchildren');
  const deep = await v2('GET', '/v2/keys/d1?recursive=true');
  const a = (nodeOf(deep)['nodes'] as Record<string, unknown>[])[0] as Record<string, unknown>;
  assert.equal((a['nodes'] as Record<string, unknown>[]).map((n) => n['value']), ['deep']);
  assertError(await v2('PUT', '/v2/keys/d1/m/under', { value: 'x' }), 400, 104, '/d1/m');
  assertError(await v2('DELETE', '/v2/keys/d1?dir=true'), 403, 108, '/d1');
  assertError(await v2('DELETE', '/v2/keys/d1'), 403, 102, '/d1');
  assertError(await v2('PUT', '/v2/keys/', { value: 'x' }), 400, 107, '/');
  assertError(await v2('DELETE', '/v2/keys/?recursive=true'), 400, 107, '/');

  // A directory outlives its last child, as in v2: the write made its marker.
  const rm = await v2('DELETE', '/v2/keys/d1/a/deep');
  assert.is(rm.json['action'], 'delete');
  assert.is(prevOf(rm)['value'], 'deep');
  const empty = await v2('GET', '/v2/keys/d1/a');
  assert.is(nodeOf(empty)['dir'], true);
  assert.equal(nodeOf(empty)['nodes'], []);
  const rmdir = await v2('DELETE', '/v2/keys/d1/a?dir=true');
  assert.is(rmdir.status, 200);
  assert.is(nodeOf(rmdir)['dir'], true);
  const all = await v2('DELETE', '/v2/keys/d1?recursive=true');
  assert.is(nodeOf(all)['dir'], true);
  assert.is((await node.range({ prefix: '/d1' })).kvs.length, 0);
  assertError(await v2('GET', '/v2/keys/d1'), 404, 100, '/d1');
});

test('a flat listing skips the subtrees of child directories; a recursive one is bounded', async () => {
  const value = new Uint8Array(0);
  // In txns of 50 puts: this member's requests are limited to 4096 bytes.
  for (let i = 0; i < (MAX_LIST_KEYS + 50) / 50; i++) {
    const puts = Array.from({ length: 50 }, (_, j) => op.put(`/many/sub/${String(i * 50 + j).padStart(6, '0')}`, value));
    await node.txn().then(...puts).commit();
  }
  await node.put('/many/file', new TextEncoder().encode('f'));
  const flat = await v2('GET', '/v2/keys/many');
  assert.is(flat.status, 200);
  assert.equal((nodeOf(flat)['nodes'] as Record<string, unknown>[]).map((n) => [n['key'], n['dir'] === true]), [['/many/file', false], ['/many/sub', true]]);
  assertError(await v2('GET', '/v2/keys/many?recursive=true'), 500, 300, /MAX_LIST_KEYS/);
  await node.delete({ prefix: '/many/' });
});

test('compareAndDelete, and delete of a missing key', async () => {
  const put = await v2('PUT', '/v2/keys/cad', { value: 'v' });
  assertError(await v2('DELETE', '/v2/keys/cad?prevValue=w'), 412, 101, '[w != v]');
  const del = await v2('DELETE', `/v2/keys/cad?prevIndex=${String(nodeOf(put)['modifiedIndex'])}`);
  assert.is(del.json['action'], 'compareAndDelete');
  assertError(await v2('DELETE', '/v2/keys/cad'), 404, 100, '/cad');
});

test('TTLs are leases: ttl and expiration shown, the key expires, refresh keeps the value', async () => {
  const set = await v2('PUT', '/v2/keys/ttl/k', { value: 'v', ttl: '1' });
  assert.is(nodeOf(set)['ttl'], 1);
  assert.type(nodeOf(set)['expiration'], 'string');
  const kv = await node.get('/ttl/k');
  assert.ok(kv?.lease !== undefined, 'the key is attached to a lease');
  const refreshed = await v2('PUT', '/v2/keys/ttl/k', { ttl: '30', refresh: 'true', prevExist: 'true' });
  assert.is(nodeOf(refreshed)['value'], 'v');
  const got = await v2('GET', '/v2/keys/ttl/k');
  assert.ok((nodeOf(got)['ttl'] as number) > 10, JSON.stringify(got.json));
  await v2('PUT', '/v2/keys/ttl/short', { value: 'v', ttl: '1' });
  const deadline = Date.now() + 10_000;
  while ((await v2('GET', '/v2/keys/ttl/short')).status !== 404) {
    assert.ok(Date.now() < deadline, 'the key expired within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // A key set without TTL under a TTL directory joins the directory's lease.
  await v2('PUT', '/v2/keys/ttldir', { dir: 'true', ttl: '30' });
  await v2('PUT', '/v2/keys/ttldir/child', { value: 'c' });
  const marker = await node.get('/ttldir/');
  assert.ok(marker?.lease !== undefined);
  assert.is((await node.get('/ttldir/child'))?.lease, marker.lease);
  // updatedir --ttl moves the subtree onto the directory's new lease.
  await v2('PUT', '/v2/keys/ud/child', { value: 'c' });
  await v2('PUT', '/v2/keys/ud', { dir: 'true', prevExist: 'true', ttl: '40' });
  const udMarker = await node.get('/ud/');
  assert.ok(udMarker?.lease !== undefined);
  assert.is((await node.get('/ud/child'))?.lease, udMarker.lease);
});

test('POST makes in-order keys that sort in creation order', async () => {
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await v2('POST', '/v2/keys/queue', { value: `job${i}` });
    assert.is(r.status, 201);
    assert.is(r.json['action'], 'create');
    names.push(nodeOf(r)['key'] as string);
  }
  assert.ok(names.every((n) => /^\/queue\/\d{20}$/.test(n)), names.join());
  assert.equal([...names].sort(), names);
  const list = await v2('GET', '/v2/keys/queue?sorted=true');
  assert.equal((nodeOf(list)['nodes'] as Record<string, unknown>[]).map((n) => n['value']), ['job0', 'job1', 'job2']);
});

test('long polls: the next change, waitIndex from history, recursive, 401 below compaction', async () => {
  const waiting = v2('GET', '/v2/keys/w/a?wait=true');
  await new Promise((r) => setTimeout(r, 100));
  await v2('PUT', '/v2/keys/w/a', { value: '1' });
  const ev = await waiting;
  assert.is(ev.json['action'], 'set');
  assert.is(nodeOf(ev)['value'], '1');
  const index = nodeOf(ev)['modifiedIndex'] as number;
  await v2('PUT', '/v2/keys/w/a', { value: '2' });
  const past = await v2('GET', `/v2/keys/w/a?wait=true&waitIndex=${index}`);
  assert.is(nodeOf(past)['value'], '1');
  const next = await v2('GET', `/v2/keys/w/a?wait=true&waitIndex=${index + 1}`);
  assert.is(nodeOf(next)['value'], '2');
  assert.is(prevOf(next)['value'], '1');

  const recursive = v2('GET', '/v2/keys/w?wait=true&recursive=true');
  const flat = v2('GET', '/v2/keys/w?wait=true');
  await new Promise((r) => setTimeout(r, 100));
  await v2('PUT', '/v2/keys/w/b/c', { value: 'deep' });
  const r = await recursive;
  assert.is(nodeOf(r)['key'], '/w/b/c', 'the deepest key of the write, not the directory it made');
  await v2('DELETE', '/v2/keys/w?recursive=true');
  const f = await flat;
  assert.is(f.json['action'], 'delete', 'a non-recursive wait sees only the directory itself');
  assert.is(nodeOf(f)['dir'], true);

  await node.compact(node.status().revision);
  assertError(await v2('GET', '/v2/keys/w/a?wait=true&waitIndex=2'), 400, 401, /^the requested history has been cleared \[\d+\/2\]$/);
  assert.is((await v2('GET', '/v2/keys/w/a?wait=true&waitIndex=x')).json['errorCode'], 203);
});

test('one keyspace: v2 writes are v3 keys and v3 writes are v2 keys, watches included', async () => {
  const watch = node.watch<Uint8Array>({ prefix: '/shared' });
  const seen: string[] = [];
  const done = new Promise<void>((resolve) =>
    watch.on('event', (ev) => {
      seen.push(ev.kv.key);
      if (ev.kv.key === '/shared/x') resolve();
    }),
  );
  await v2('PUT', '/v2/keys/shared/x', { value: 'from v2' });
  await done;
  watch.close();
  assert.equal(seen, ['/shared/', '/shared/x'], 'the directory marker and the key, at one revision');
  const { revision } = await node.put('/shared/y', new TextEncoder().encode('from v3'));
  const got = await v2('GET', '/v2/keys/shared/y');
  assert.is(nodeOf(got)['value'], 'from v3');
  assert.is(nodeOf(got)['modifiedIndex'], revision + 1);
  const waiting = v2('GET', '/v2/keys/shared/y?wait=true');
  await new Promise((r) => setTimeout(r, 100));
  await node.delete('/shared/y');
  const ev = await waiting;
  assert.is(ev.json['action'], 'delete');
  assert.is(prevOf(ev)['value'], 'from v3');
  // A node with the default (msgpack) codec stores v2 values as bytes and shows them as text.
  await v2('PUT', '/v2/keys/app', { value: 'hello' }, appUrl);
  assert.is(nodeOf(await v2('GET', '/v2/keys/app', undefined, appUrl))['value'], 'hello');
  await appNode.put('/struct', { a: 1 });
  assert.is(nodeOf(await v2('GET', '/v2/keys/struct', undefined, appUrl))['value'], '{"a":1}');
});

test('bad input gets etcd errors and the member keeps serving', async () => {
  assertError(await v2('PUT', '/v2/keys/bad', 'value=%zz'), 400, 210);
  assertError(await v2('PUT', '/v2/keys/bad', { value: 'x', bogus: '1' }), 400, 209, /unknown field "bogus"/);
  assertError(await v2('GET', '/v2/keys/bad?foo=1'), 400, 209);
  assertError(await v2('GET', '/v2/keys/bad?wait=true&stream=true'), 400, 209, /stream=true watches are not served/);
  assertError(await v2('PUT', '/v2/keys/bad', { value: 'x', ttl: 'abc' }), 400, 202);
  assertError(await v2('PUT', '/v2/keys/bad', { value: 'x', ttl: '-1' }), 400, 202);
  assertError(await v2('PUT', '/v2/keys/bad', { value: 'x', prevIndex: 'x' }), 400, 203);
  assertError(await v2('PUT', '/v2/keys/bad', { value: 'x', prevValue: '' }), 400, 201);
  assertError(await v2('PUT', '/v2/keys/bad', { value: 'x', prevExist: 'maybe' }), 400, 209);
  assertError(await v2('PUT', '/v2/keys/bad', { dir: 'true', value: 'x' }), 400, 209);
  assertError(await v2('PUT', '/v2/keys/bad', { value: 'x', refresh: 'true', ttl: '5' }), 400, 209);
  assertError(await v2('PUT', '/v2/keys/bad', '{"value":"x"}', url, { 'content-type': 'application/json' }), 400, 210);
  assertError(await v2('PUT', '/v2/keys/bad%zz', { value: 'x' }), 400, 210);
  assertError(await v2('PATCH', '/v2/keys/bad'), 400, 209);
  // A value over the member's request limit (4096 bytes here) and a body over the endpoint's.
  assertError(await v2('PUT', '/v2/keys/big', { value: 'x'.repeat(5000) }), 500, 300, /too large|exceeds|limit/i);
  assertError(await v2('PUT', '/v2/keys/big', { value: 'x'.repeat(100_000) }), 500, 300);
  assert.is((await v2('PUT', '/v2/keys/after', { value: 'ok' })).status, 201, 'still serving');
  const unauthorized = await v2('GET', '/v2/keys/x', undefined, tokenUrl);
  assertError(unauthorized, 401, 110);
  assert.is((await v2('PUT', '/v2/keys/x', { value: 'ok' }, tokenUrl, { authorization: 'Bearer sekret' })).status, 201);
});

test('members, leader, machines and stats in etcd v2 shapes', async () => {
  const list = await v2('GET', '/v2/members');
  const members = list.json['members'] as Record<string, unknown>[];
  assert.is(members.length, 1);
  assert.is(members[0]?.['name'], 'v1');
  assert.match(String(members[0]?.['id']), /^[0-9a-f]+$/);
  assert.equal(members[0]?.['clientURLs'], [url]);
  const leader = await v2('GET', '/v2/members/leader');
  assert.is(leader.json['name'], 'v1');
  assert.is((await v2('POST', '/v2/members', 'x')).status, 415);
  const bad = await fetch(`${url}/v2/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"peerURLs":["ftp://x"]}' });
  assert.is(bad.status, 400);
  assert.is((await fetch(`${url}/v2/members/abc`, { method: 'DELETE' })).status, 404);
  assert.is(await (await fetch(`${url}/v2/machines`)).text(), url);
  // PUT replaces a member's peer URLs (204); an unknown member is 404, a bad body 400, a peer URL
  // another member has (POST or PUT) 409.
  const put = (id: string, body: string): Promise<Response> => fetch(`${url}/v2/members/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
  const id = String(members[0]?.['id']);
  assert.is((await put(id, '{"peerURLs":["http://127.0.0.1:12380","ws://127.0.0.1:12381"]}')).status, 204);
  const moved = (await v2('GET', '/v2/members')).json['members'] as Record<string, unknown>[];
  assert.equal(moved[0]?.['peerURLs'], ['ws://127.0.0.1:12380', 'ws://127.0.0.1:12381']);
  assert.is((await put('abcdef', '{"peerURLs":["ws://127.0.0.1:12382"]}')).status, 404);
  assert.is((await put(id, '{"peerURLs":[]}')).status, 400);
  assert.is((await put(id, '{"peerURLs":["ftp://x"]}')).status, 400);
  const dup = await fetch(`${url}/v2/members`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"peerURLs":["http://127.0.0.1:12381"]}' });
  assert.is(dup.status, 409);
  assert.equal(await dup.json(), { message: 'etcdserver: peerURL exists' });
  const self = await v2('GET', '/v2/stats/self');
  assert.is(self.json['name'], 'v1');
  assert.is(self.json['state'], 'StateLeader');
  assert.is((await v2('GET', '/v2/stats/leader')).status, 200);
  const store = await v2('GET', '/v2/stats/store');
  assert.ok((store.json['setsSuccess'] as number) > 0);
  // The v3 JSON gateway on the same port is untouched.
  const v3 = await fetch(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/after').toString('base64') }) });
  assert.is(v3.status, 200);
});

test.run();
