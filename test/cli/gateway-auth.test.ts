// Proves etcd auth on the HTTP/1.1 adapters of the client port, in-process on loopback: the JSON
// gateway's `/v3/auth/*` routes (users, roles, permissions, enable, authenticate) and
// `Authorization: <token>` on kv, txn (every op of both branches), watch and admin routes,
// granted and refused; the v2 keys API answering etcd v2's 401 (errorCode 110) to a user whose
// v3 permissions do not cover the key (basic auth or a token), so that no refused write lands; and the status page's key
// browser giving no key data without a token that may read the prefix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import { createNode } from '../../src/create-node.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { b64, post, unb64 } from './helpers.ts';

let node: QuorumNode;
let server: ClientServer;
const call = (path: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> =>
  post(server.url, path, body, token === undefined ? {} : { authorization: token });
async function ok(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const r = await call(path, body, token);
  assert.is(r.status, 200, `${path}: ${JSON.stringify(r.json)}`);
  return r.json;
}
async function refused(path: string, body: unknown, token: string | undefined, status: number, code: string): Promise<void> {
  const r = await call(path, body, token);
  assert.equal([r.status, r.json['code']], [status, code], `${path}: ${JSON.stringify(r.json)}`);
}
let rootToken = '';
let userToken = '';

test.before(async () => {
  node = await createNode({ id: 'ga', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  server = await startClientEndpoint(node, { port: 0 });
});
test.after(async () => {
  await server.close();
  await node.close();
});

test('the /v3/auth routes set users, roles and permissions up', async () => {
  await refused('/v3/auth/authenticate', { name: 'root', password: 'x' }, undefined, 400, 'AUTH');
  await ok('/v3/auth/user/add', { name: 'root', password: 'rootpw' });
  await refused('/v3/auth/enable', {}, undefined, 400, 'AUTH');
  await ok('/v3/auth/user/grant', { user: 'root', role: 'root' });
  await ok('/v3/auth/user/add', { name: 'app', password: 'apppw' });
  await ok('/v3/auth/role/add', { name: 'apps' });
  await ok('/v3/auth/role/grant', { name: 'apps', perm: { permType: 'READWRITE', key: b64('app/'), range_end: b64('app0') } });
  await ok('/v3/auth/role/grant', { name: 'apps', perm: { permType: 'READ', key: b64('conf') } });
  await ok('/v3/auth/user/grant', { user: 'app', role: 'apps' });
  assert.equal((await ok('/v3/auth/user/list', {}))['users'], ['app', 'root']);
  assert.equal((await ok('/v3/auth/user/get', { name: 'app' }))['roles'], ['apps']);
  const perms = (await ok('/v3/auth/role/get', { role: 'apps' }))['perm'] as Record<string, string>[];
  assert.equal(perms.map((p) => [p['permType'], unb64(p['key'])]), [['READWRITE', 'app/'], ['READ', 'conf']]);
  await ok('/v3/kv/put', { key: b64('conf'), value: b64('C') });
  await ok('/v3/kv/put', { key: b64('secret'), value: b64('S') });
  await ok('/v3/auth/enable', {});
  rootToken = String((await ok('/v3/auth/authenticate', { name: 'root', password: 'rootpw' }))['token']);
  userToken = String((await ok('/v3/auth/authenticate', { name: 'app', password: 'apppw' }))['token']);
  await refused('/v3/auth/authenticate', { name: 'app', password: 'nope' }, undefined, 400, 'AUTH_FAILED');
});

test('kv, txn, watch and admin routes under auth', async () => {
  await refused('/v3/kv/range', { key: b64('conf') }, undefined, 403, 'PERMISSION_DENIED');
  await refused('/v3/kv/range', { key: b64('conf') }, 'not-a-token', 401, 'UNAUTHENTICATED');
  assert.is(unb64(((await ok('/v3/kv/range', { key: b64('conf') }, userToken))['kvs'] as Record<string, string>[])[0]?.['value']), 'C');
  await refused('/v3/kv/range', { key: b64('secret') }, userToken, 403, 'PERMISSION_DENIED');
  await refused('/v3/kv/put', { key: b64('conf'), value: b64('x') }, userToken, 403, 'PERMISSION_DENIED');
  await ok('/v3/kv/put', { key: b64('app/1'), value: b64('1') }, userToken);
  await refused('/v3/kv/deleterange', { key: b64('\0'), range_end: b64('\0') }, userToken, 403, 'PERMISSION_DENIED');
  // The failure branch writes a key outside the permissions: refused even if it would not run.
  const txn = (other: string): unknown => ({
    compare: [{ key: b64('conf'), target: 'VALUE', result: 'EQUAL', value: b64('C') }],
    success: [{ request_put: { key: b64('app/2'), value: b64('2') } }],
    failure: [{ request_put: { key: b64(other), value: b64('x') } }],
  });
  await refused('/v3/kv/txn', txn('secret'), userToken, 403, 'PERMISSION_DENIED');
  assert.is((await ok('/v3/kv/txn', txn('app/3'), userToken))['succeeded'], true);
  await refused('/v3/kv/txn', { success: [{ request_txn: { success: [{ request_range: { key: b64('secret') } }] } }] }, userToken, 403, 'PERMISSION_DENIED');
  await refused('/v3/watch', { create_request: { key: b64('secret') } }, userToken, 403, 'PERMISSION_DENIED');
  await refused('/v3/kv/compaction', { revision: '2' }, userToken, 403, 'PERMISSION_DENIED');
  await refused('/v3/auth/user/list', {}, userToken, 403, 'PERMISSION_DENIED');
  assert.equal((await ok('/v3/auth/user/get', { name: 'app' }, userToken))['roles'], ['apps'], 'a user reads itself');
  await refused('/v3/auth/user/get', { name: 'root' }, userToken, 403, 'PERMISSION_DENIED');
  await ok('/v3/maintenance/status', {});
  // A lease holding a key the user may not write: no put may attach to it, no revoke may drop it.
  const lease = String((await ok('/v3/lease/grant', { TTL: '60' }, userToken))['ID']);
  await ok('/v3/kv/put', { key: b64('secret2'), value: b64('x'), lease }, rootToken);
  await refused('/v3/kv/put', { key: b64('app/l'), value: b64('l'), lease }, userToken, 403, 'PERMISSION_DENIED');
  await refused('/v3/kv/txn', { success: [{ request_put: { key: b64('app/l'), value: b64('l'), lease } }] }, userToken, 403, 'PERMISSION_DENIED');
  await refused('/v3/lease/revoke', { ID: lease }, userToken, 403, 'PERMISSION_DENIED');
  await ok('/v3/lease/revoke', { ID: lease }, rootToken);
  assert.is(unb64(((await ok('/v3/kv/range', { key: b64('secret') }, rootToken))['kvs'] as Record<string, string>[])[0]?.['value']), 'S');
});

test('v2 keys: v3 permissions (basic auth or token); nothing refused is written', async () => {
  const v2 = (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Response> =>
    fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, ...(body === undefined ? {} : { body }) });
  const anon = await v2('PUT', '/v2/keys/v2key', {}, 'value=x');
  assert.is(anon.status, 401);
  const body = (await anon.json()) as Record<string, unknown>;
  assert.is(body['errorCode'], 110);
  assert.is(body['message'], 'The request requires user authentication');
  const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  assert.is((await v2('PUT', '/v2/keys/v2key', basic('app', 'apppw'), 'value=x')).status, 401, 'a user without WRITE on /v2key');
  assert.is((await v2('PUT', '/v2/keys/v2key', basic('root', 'wrong'), 'value=x')).status, 401, 'a wrong password');
  assert.is((await v2('GET', '/v2/keys/v2key', { authorization: userToken })).status, 401);
  assert.equal((await node.range({ prefix: '' })).kvs.filter((kv) => kv.key.includes('v2key')), [], 'no refused write landed');
  assert.is((await v2('PUT', '/v2/keys/v2key', basic('root', 'rootpw'), 'value=y')).status, 201);
  assert.is((await v2('GET', '/v2/keys/v2key', { authorization: rootToken })).status, 200);
});

test('the status page lists keys only for a token that may read them', async () => {
  const ui = (path: string, token?: string): Promise<Response> => fetch(`${server.url}${path}`, token === undefined ? {} : { headers: { authorization: token } });
  const anon = await ui('/ui/api/keys?prefix=');
  assert.is(anon.status, 401, 'no token: the page asks for one');
  assert.not.ok((await anon.text()).includes(b64('S')));
  assert.is((await ui('/ui/api/keys?prefix=', userToken)).status, 403, 'the whole keyspace is more than app/');
  const mine = await ui('/ui/api/keys?prefix=app/', userToken);
  assert.is(mine.status, 200);
  assert.match(await mine.text(), /app\/1/);
  assert.is((await ui('/ui/api/keys?prefix=', 'bogus')).status, 401);
  assert.is((await ui('/ui/api/watch?prefix=sec', userToken)).status, 403);
  assert.is((await ui('/ui/api/status')).status, 200);
  const all = await ui('/ui/api/keys?prefix=', rootToken);
  assert.is(all.status, 200);
  await all.text();
  // Auth disabled again: everything open.
  await ok('/v3/auth/disable', {}, rootToken);
  assert.is((await ui('/ui/api/keys?prefix=')).status, 200);
  await ok('/v3/kv/range', { key: b64('secret') });
});

test.run();
