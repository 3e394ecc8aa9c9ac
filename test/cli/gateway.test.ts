// Proves the HTTP/JSON client endpoint speaks etcd v3's gateway JSON: etcd's documented curl
// requests (snake_case and camelCase fields, base64 keys/values, int64 as strings) get etcd's
// response shapes for kv, txn, watch (streamed), lease, cluster and maintenance routes; and bad
// requests (bad JSON, bad base64, wrong types, oversized, unknown path, wrong method, missing
// token) get a JSON `{ error, code, message }` with our code and an HTTP status while the
// endpoint keeps serving; https with a throwaway openssl certificate works with the CLI's --cacert.
// In-process single-member nodes on memory storage, fetch/http on loopback.
import { request } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clientUrlOf, createNode, memoryStorage } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import { startClientServer } from '../../src/gateway/server.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import { b64, cli, post, removeDir, tempDir, unb64 } from './helpers.ts';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let node: QuorumNode;
let server: ClientServer;
let url = '';
let appNode: QuorumNode;
let appUrl = '';

test.before(async () => {
  node = await createNode({ id: 'g1', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready({ timeoutMs: 10_000 });
  server = await startClientServer(node, { port: 0, maxRequestBytes: 4096, requestOverheadBytes: 1024, token: 'sekret' });
  url = server.url;
  // A node with the default (msgpack) codec, as an app embeds it, serving the same API.
  appNode = await createNode({ id: 'app', storage: memoryStorage(), electionTimeoutMs: 300, heartbeatMs: 30, client: { port: 0 } });
  await appNode.ready({ timeoutMs: 10_000 });
  // createNode({ client }) started its endpoint through startClientServer.
  appUrl = clientUrlOf(appNode) ?? '';
});

test.after(async () => {
  await server.close();
  await node.close();
  await appNode.close();
});

const auth = { authorization: 'Bearer sekret' };
const call = (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => post(url, path, body, auth);

test('etcd docs: put then range, with etcd response shapes', async () => {
  const put = await call('/v3/kv/put', { key: 'Zm9v', value: 'YmFy' });
  assert.is(put.status, 200);
  const header = put.json['header'] as Record<string, string>;
  assert.type(header['revision'], 'string');
  assert.type(header['member_id'], 'string');
  assert.type(header['raft_term'], 'string');
  const range = await call('/v3/kv/range', { key: 'Zm9v' });
  const kvs = range.json['kvs'] as Record<string, string>[];
  assert.equal(kvs[0], { key: 'Zm9v', create_revision: header['revision'], mod_revision: header['revision'], version: '1', value: 'YmFy' });
  assert.is(range.json['count'], '1');
  // Prefix range: key "foo", range_end "fop".
  await call('/v3/kv/put', { key: b64('foo2'), value: b64('x') });
  const prefix = await call('/v3/kv/range', { key: 'Zm9v', range_end: 'Zm9w', sort_order: 'DESCEND', keys_only: true });
  assert.equal((prefix.json['kvs'] as Record<string, string>[]).map((kv) => [unb64(kv['key']), kv['value']]), [['foo2', undefined], ['foo', undefined]]);
  const counted = await call('/v3/kv/range', { key: 'AA==', range_end: 'AA==', count_only: true });
  assert.is(counted.json['count'], '2');
  assert.is(counted.json['kvs'], undefined);
  const limited = await call('/v3/kv/range', { key: 'AA==', range_end: 'AA==', limit: 1 });
  assert.is(limited.json['more'], true);
  const none = await call('/v3/kv/range', { key: b64('nope') });
  assert.equal(Object.keys(none.json), ['header']);
});

test('etcd docs: txn with camelCase fields; failure branch returns ranges', async () => {
  const rev = Number(((await call('/v3/kv/range', { key: 'Zm9v' })).json['kvs'] as Record<string, string>[])[0]?.['create_revision']);
  const ok = await call('/v3/kv/txn', { compare: [{ target: 'CREATE', key: 'Zm9v', createRevision: String(rev) }], success: [{ requestPut: { key: 'Zm9v', value: 'YmFy' } }] });
  assert.is(ok.status, 200);
  assert.is(ok.json['succeeded'], true);
  assert.ok(((ok.json['responses'] as Record<string, unknown>[])[0] as Record<string, unknown>)['response_put']);
  const no = await call('/v3/kv/txn', {
    compare: [{ target: 'VALUE', result: 'EQUAL', key: 'Zm9v', value: b64('other') }],
    success: [{ request_delete_range: { key: 'Zm9v' } }],
    failure: [{ request_range: { key: 'Zm9v' } }, { request_txn: { success: [{ request_put: { key: b64('nested'), value: b64('1') } }] } }],
  });
  assert.is(no.json['succeeded'], undefined);
  const responses = no.json['responses'] as Record<string, Record<string, unknown>>[];
  assert.is(((responses[0]?.['response_range']?.['kvs'] as Record<string, string>[])[0] as Record<string, string>)['value'], 'YmFy');
  assert.is(responses[1]?.['response_txn']?.['succeeded'], true);
});

test('deleterange with prev_kv; compaction; revision errors', async () => {
  const del = await call('/v3/kv/deleterange', { key: b64('nested'), prev_kv: true });
  assert.is(del.json['deleted'], '1');
  assert.is(unb64((del.json['prev_kvs'] as Record<string, string>[])[0]?.['value']), '1');
  const rev = Number((del.json['header'] as Record<string, string>)['revision']);
  assert.is((await call('/v3/kv/compaction', { revision: String(rev - 1) })).status, 200);
  const old = await call('/v3/kv/range', { key: 'Zm9v', revision: '1' });
  assert.is(old.status, 400);
  assert.is(old.json['code'], 'COMPACTED');
  const future = await call('/v3/kv/range', { key: 'Zm9v', revision: String(rev + 1000) });
  assert.is(future.json['code'], 'FUTURE_REVISION');
});

test('leases: grant, put with lease, timetolive with keys, keepalive, leases, revoke', async () => {
  const grant = await call('/v3/lease/grant', { TTL: 30, ID: 0 });
  const id = grant.json['ID'] as string;
  assert.is(grant.json['TTL'], '30');
  await call('/v3/kv/put', { key: b64('leased'), value: b64('v'), lease: id });
  const ttl = await call('/v3/lease/timetolive', { ID: id, keys: true });
  assert.is(ttl.json['grantedTTL'], '30');
  assert.equal(ttl.json['keys'], [b64('leased')]);
  const ka = await call('/v3/lease/keepalive', { ID: id });
  assert.is((ka.json['result'] as Record<string, string>)['ID'], id);
  assert.ok(((await call('/v3/lease/leases', {})).json['leases'] as { ID: string }[]).some((l) => l.ID === id));
  assert.is((await call('/v3/lease/revoke', { ID: id })).status, 200);
  assert.is((await call('/v3/kv/range', { key: b64('leased') })).json['kvs'], undefined);
  assert.is((await call('/v3/lease/timetolive', { ID: id })).json['TTL'], '-1');
  const missing = await call('/v3/kv/put', { key: b64('x'), value: b64('y'), lease: '12345' });
  assert.is(missing.status, 404);
  assert.is(missing.json['code'], 'LEASE_NOT_FOUND');
});

/** Reads newline-delimited JSON messages from a streaming POST until `count` arrived. */
function streamMessages(path: string, body: unknown, count: number, onOpen: () => Promise<void>): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method: 'POST', headers: auth }, (res) => {
      const messages: Record<string, unknown>[] = [];
      let buffered = '';
      let opened = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          messages.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
          buffered = buffered.slice(nl + 1);
        }
        if (!opened && messages.length > 0) {
          opened = true;
          onOpen().catch(reject);
        }
        if (messages.length >= count) {
          req.destroy();
          resolve(messages);
        }
      });
    });
    req.on('error', (err) => (err.message === 'socket hang up' ? undefined : reject(err)));
    setTimeout(() => {
      req.destroy();
      reject(new Error('stream timed out'));
    }, 8000).unref();
    req.end(JSON.stringify(body));
  });
}

test('etcd docs: watch streams created, then events (put, delete with prev_kv)', async () => {
  const messages = await streamMessages('/v3/watch', { create_request: { key: b64('w/'), range_end: b64('w0'), prev_kv: true } }, 3, async () => {
    await call('/v3/kv/put', { key: b64('w/a'), value: b64('1') });
    await call('/v3/kv/deleterange', { key: b64('w/a') });
  });
  assert.is((messages[0]?.['result'] as Record<string, unknown>)['created'], true);
  const put = ((messages[1]?.['result'] as Record<string, unknown>)['events'] as Record<string, Record<string, string>>[])[0];
  assert.is(put?.['type'] as unknown, 'PUT');
  assert.equal([unb64(put?.['kv']?.['key']), unb64(put?.['kv']?.['value']), put?.['kv']?.['version']], ['w/a', '1', '1']);
  const del = ((messages[2]?.['result'] as Record<string, unknown>)['events'] as Record<string, Record<string, string>>[])[0];
  assert.is(del?.['type'] as unknown, 'DELETE');
  assert.is(unb64(del?.['prev_kv']?.['value']), '1');
});

test('cluster, status, snapshot and health', async () => {
  const members = (await call('/v3/cluster/member/list', {})).json['members'] as Record<string, unknown>[];
  assert.is(members.length, 1);
  assert.is(members[0]?.['name'], 'g1');
  assert.equal(members[0]?.['clientURLs'], [url]);
  // add without a name (etcd's MemberAdd): a generated id, listed with no name; update; remove.
  const added = await call('/v3/cluster/member/add', { peerURLs: ['ws://127.0.0.1:12390'], isLearner: true });
  assert.is(added.status, 200, JSON.stringify(added.json));
  const member = added.json['member'] as Record<string, unknown>;
  assert.equal([member['name'], member['peerURLs'], member['isLearner']], ['', ['ws://127.0.0.1:12390'], true]);
  const updated = await call('/v3/cluster/member/update', { ID: member['ID'], peerURLs: ['ws://127.0.0.1:12391'] });
  const after = (updated.json['members'] as Record<string, unknown>[]).find((m) => m['ID'] === member['ID']);
  assert.equal(after?.['peerURLs'], ['ws://127.0.0.1:12391']);
  assert.is((await call('/v3/cluster/member/update', { ID: member['ID'], peerURLs: [members[0]?.['peerURLs']] })).status, 400, 'not a URL list');
  assert.is((await call('/v3/cluster/member/remove', { ID: member['ID'] })).status, 200);
  assert.is(((await call('/v3/cluster/member/list', {})).json['members'] as unknown[]).length, 1);
  const status = await call('/v3/maintenance/status', {});
  assert.is(status.json['leader'], (members[0] as Record<string, unknown>)['ID']);
  assert.is(status.json['leaderName'], 'g1');
  const snap = await streamMessages('/v3/maintenance/snapshot', {}, 1, async () => {});
  const blob = Buffer.from(String((snap[0]?.['result'] as Record<string, string>)['blob']), 'base64');
  assert.is(blob.subarray(0, 8).toString(), 'QKVBAK1\n');
  const health = await fetch(`${url}/health`);
  assert.is(health.status, 200);
  assert.equal(await health.json(), { health: 'true', reason: '' });
  const dup = await call('/v3/cluster/member/add', { name: 'g1', peerURLs: ['ws://127.0.0.1:1'] });
  assert.is(dup.status >= 400, true);
});

test('bad requests get JSON errors with our codes and HTTP statuses', async () => {
  const cases: [string, string | object, number, string][] = [
    ['/v3/kv/range', '{"key": ', 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/range', '[1,2]', 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/range', { key: 'not base64!!' }, 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/range', { key: 5 }, 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/range', { key: 'Zm9v', limit: 'ten' }, 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/range', { key: 'Zm9v', sort_order: 'SIDEWAYS' }, 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/range', {}, 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/put', { key: b64('k'), value: 'x'.repeat(8000) }, 413, 'REQUEST_TOO_LARGE'],
    ['/v3/kv/txn', { success: [{ request_nothing: {} }] }, 400, 'INVALID_ARGUMENT'],
    ['/v3/kv/nope', {}, 404, 'INVALID_ARGUMENT'],
    ['/v3/lease/grant', { TTL: -5 }, 400, 'INVALID_ARGUMENT'],
    ['/v3/cluster/member/remove', { ID: 'ghost' }, 404, 'MEMBER_NOT_FOUND'],
  ];
  for (const [path, body, status, code] of cases) {
    const r = await call(path, body);
    assert.is(r.status, status, `${path} ${JSON.stringify(body).slice(0, 60)}`);
    assert.is(r.json['code'], code);
    assert.type(r.json['error'], 'string');
    assert.type(r.json['message'], 'string');
  }
  const get = await fetch(`${url}/v3/kv/range`, { headers: auth });
  assert.is(get.status, 405);
  assert.is(((await get.json()) as Record<string, unknown>)['code'], 'INVALID_ARGUMENT');
  // The endpoint is still serving.
  assert.is((await call('/v3/kv/range', { key: 'Zm9v' })).status, 200);
});

test('bearer token: required (constant-time compare), bare token accepted, /health open', async () => {
  const none = await post(url, '/v3/kv/range', { key: 'Zm9v' });
  assert.is(none.status, 401);
  assert.is(none.json['code'], 'UNAUTHENTICATED');
  assert.is((await post(url, '/v3/kv/range', { key: 'Zm9v' }, { authorization: 'Bearer wrong' })).status, 401);
  assert.is((await post(url, '/v3/kv/range', { key: 'Zm9v' }, { authorization: 'sekret' })).status, 200);
  assert.is((await fetch(`${url}/health`)).status, 200);
});

test('a default-codec node shows app values as bytes: strings as UTF-8, structures as JSON', async () => {
  await appNode.put('/cfg/db', { host: 'db1', port: 5432 });
  await appNode.put('/cfg/name', 'hello');
  const r = await post(appUrl, '/v3/kv/range', { key: b64('/cfg/'), range_end: b64('/cfg0') });
  const values = (r.json['kvs'] as Record<string, string>[]).map((kv) => unb64(kv['value']));
  assert.equal(values, ['{"host":"db1","port":5432}', 'hello']);
  await post(appUrl, '/v3/kv/put', { key: b64('/cfg/raw'), value: b64('bytes') });
  const back = await appNode.get<Uint8Array>('/cfg/raw');
  assert.is(Buffer.from(back?.value ?? new Uint8Array()).toString(), 'bytes');
});

test('https endpoint: the CLI verifies it with --cacert and refuses it without', async () => {
  const dir = tempDir('tls');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  if (made.status !== 0) {
    console.log('openssl unavailable: TLS test skipped');
    removeDir(dir);
    return;
  }
  // The member's whole endpoint: the CLI's key commands are v2 API requests (src/v2).
  const tls = await startClientEndpoint(node, { port: 0, tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, token: 'sekret' });
  try {
    assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ok = await cli(tls.url, '--cacert', join(dir, 'cert.pem'), '--token', 'sekret', 'set', '/tls/key', 'secure');
    assert.is(ok.out, 'secure\n', ok.err);
    const refused = await cli(tls.url, '--token', 'sekret', 'get', '/tls/key');
    assert.is(refused.code, 2);
    assert.match(refused.err, /certificate/);
    const noToken = await cli(tls.url, '--cacert', join(dir, 'cert.pem'), 'get', '/tls/key');
    assert.is(noToken.code, 3);
  } finally {
    await tls.close();
    removeDir(dir);
  }
});

test.run();
