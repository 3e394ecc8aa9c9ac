// Proves the v2 keys API enforces etcd v3 permissions per request: one in-process member with
// auth enabled and users whose roles grant READ, WRITE or both on prefixes or single keys. Each
// user's v2 requests (HTTP basic auth, a v3 token, and Debian's real `ETCDCTL_API=2 etcdctl
// --username`) are allowed exactly as the mapping says; every refusal is etcd's 401 errorCode 110
// with the reason in its cause, and the store is read afterwards to show it changed nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import { createNode } from '../../src/create-node.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import { prefixKeys } from '../../src/node/auth/permission-set.ts';
import type { Permission } from '../../src/node/auth/types.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { hasEtcdctl } from '../grpc/helpers.ts';
import { etcdctl2 } from './session.ts';

let node: QuorumNode;
let server: ClientServer;

const PASSWORDS: Readonly<Record<string, string>> = { root: 'rootpw', app: 'apppw', reader: 'readpw', writer: 'writepw', one: 'onepw', deep: 'deeppw' };

const onKey = (type: Permission['type'], key: string): Permission => ({ type, key: new TextEncoder().encode(key), rangeEnd: new Uint8Array(0) });
const onPrefix = (type: Permission['type'], prefix: string): Permission => ({ type, ...prefixKeys(prefix) });

async function addUser(name: string, ...permissions: Permission[]): Promise<void> {
  await node.auth.addUser(name, PASSWORDS[name]);
  if (name === 'root') return void (await node.auth.grantRole('root', 'root'));
  await node.auth.addRole(`${name}-role`);
  for (const p of permissions) await node.auth.grantPermission(`${name}-role`, p);
  await node.auth.grantRole(name, `${name}-role`);
}

test.before(async () => {
  node = await createNode({ id: 'va', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  server = await startClientEndpoint(node, { port: 0 });
  await addUser('root');
  await addUser('app', onPrefix('readwrite', '/app/'));
  await addUser('reader', onPrefix('read', '/app/'));
  await addUser('writer', onPrefix('write', '/app/'));
  await addUser('one', onKey('readwrite', '/app/one'));
  await addUser('deep', onKey('write', '/m/a/b'));
  await node.auth.enable();
});
test.after(async () => {
  await server.close();
  await node.close();
});

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

function basic(user: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${PASSWORDS[user] ?? ''}`).toString('base64')}` };
}

async function v2(method: string, path: string, headers: Record<string, string>, form?: Record<string, string>): Promise<Reply> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

function assertDenied(r: Reply, cause: RegExp): void {
  assert.is(r.status, 401, JSON.stringify(r.body));
  assert.is(r.body['errorCode'], 110);
  assert.is(r.body['message'], 'The request requires user authentication');
  assert.match(String(r.body['cause']), /^Insufficient credentials: /);
  assert.match(String(r.body['cause']), cause);
  assert.is(r.headers.get('www-authenticate'), 'Basic realm="etcd"');
}

async function valueOf(key: string): Promise<string | undefined> {
  const kv = await node.get<Uint8Array>(key);
  return kv === undefined ? undefined : Buffer.from(kv.value).toString('utf8');
}

async function stored(prefix: string): Promise<string[]> {
  return (await node.range({ prefix })).kvs.map((kv) => kv.key);
}

test('files and directories: READ on the key reads a file, READ on the prefix lists a directory', async () => {
  assert.is((await v2('PUT', '/v2/keys/app/x', basic('app'), { value: 'hello' })).status, 201);
  assert.is((await v2('PUT', '/v2/keys/app/one', basic('root'), { value: '1' })).status, 201);
  const file = await v2('GET', '/v2/keys/app/x', basic('reader'));
  assert.is(file.status, 200);
  assert.is((file.body['node'] as Record<string, unknown>)['value'], 'hello');
  const listing = await v2('GET', '/v2/keys/app?recursive=true&sorted=true', basic('reader'));
  assert.is(listing.status, 200);
  assert.is(((listing.body['node'] as Record<string, unknown>)['nodes'] as unknown[]).length, 2);
  assert.is((await v2('GET', '/v2/keys/app/one', basic('one'))).status, 200, 'a single-key grant reads its key');
  // Neither the file /app nor the prefix /app/ is granted: refused before the read.
  assertDenied(await v2('GET', '/v2/keys/app', basic('one')), /permission denied \(read on \/app\)/);
  assertDenied(await v2('GET', '/v2/keys/app/x', basic('one')), /permission denied \(read on \/app\/x\)/);
  assertDenied(await v2('GET', '/v2/keys/app/x', basic('writer')), /permission denied/);
  assertDenied(await v2('GET', '/v2/keys/nothing-here', basic('reader')), /permission denied/);
  assertDenied(await v2('GET', '/v2/keys/', basic('app')), /read on the keys under \//);
  assert.is((await v2('GET', '/v2/keys/?recursive=true', basic('root'))).status, 200, 'root reads everything');
});

test('writes: WRITE on the key; a refused write changes nothing; compares need READ', async () => {
  assertDenied(await v2('PUT', '/v2/keys/app/x', basic('reader'), { value: 'nope' }), /permission denied \(write on \/app\/x\)/);
  assertDenied(await v2('PUT', '/v2/keys/other/y', basic('app'), { value: 'nope' }), /write on \/other\/y/);
  assertDenied(await v2('PUT', '/v2/keys/app/x', {}, { value: 'nope' }), /user name is empty/);
  assertDenied(await v2('PUT', '/v2/keys/app/x', { authorization: `Basic ${Buffer.from('app:wrong').toString('base64')}` }, { value: 'nope' }), /authentication failed/);
  assert.equal(await stored('/other'), []);
  assert.is(await valueOf('/app/x'), 'hello');
  // A WRITE-only user writes but is not shown the value it replaced.
  const blind = await v2('PUT', '/v2/keys/app/x', basic('writer'), { value: 'w' });
  assert.is(blind.status, 200);
  assert.is(blind.body['prevNode'], undefined, 'no prevNode without READ');
  const seen = await v2('PUT', '/v2/keys/app/x', basic('app'), { value: 'hello' });
  assert.is((seen.body['prevNode'] as Record<string, unknown>)['value'], 'w');
  assertDenied(await v2('PUT', '/v2/keys/app/x', basic('writer'), { value: 'v', prevValue: 'hello' }), /read on \/app\/x/);
  assertDenied(await v2('PUT', '/v2/keys/app/new', basic('writer'), { value: 'v', prevExist: 'false' }), /read on \/app\/new/);
  assert.is((await v2('PUT', '/v2/keys/app/x', basic('app'), { value: 'hello2', prevValue: 'hello' })).status, 200);
  assert.is((await v2('PUT', '/v2/keys/app/one', basic('one'), { value: '2' })).status, 200, 'a single-key grant writes its key');
});

test('ancestor markers a write creates need WRITE; once they exist, the key alone is enough', async () => {
  assertDenied(await v2('PUT', '/v2/keys/m/a/b', basic('deep'), { value: 'v' }), /write on \/m\/a\//);
  assert.equal(await stored('/m'), [], 'no marker, no key');
  assert.equal((await node.leases()).length, 0, 'no lease was granted either');
  assert.is((await v2('PUT', '/v2/keys/m/a', basic('root'), { dir: 'true' })).status, 201);
  assert.is((await v2('PUT', '/v2/keys/m/a/b', basic('deep'), { value: 'v' })).status, 201);
  assert.equal(await stored('/m'), ['/m/', '/m/a/', '/m/a/b']);
  assertDenied(await v2('PUT', '/v2/keys/app/d', basic('one'), { dir: 'true' }), /write on \/app\/d/);
  assert.is((await v2('PUT', '/v2/keys/app/d', basic('app'), { dir: 'true' })).status, 201, 'mkdir inside the prefix');
});

test('in-order POST needs WRITE on the whole directory; deletes on the key or the subtree', async () => {
  const posted = await v2('POST', '/v2/keys/app/q', basic('writer'), { value: 'job' });
  assert.is(posted.status, 201);
  assert.match(String((posted.body['node'] as Record<string, unknown>)['key']), /^\/app\/q\/\d{20}$/);
  assertDenied(await v2('POST', '/v2/keys/app/q', basic('one'), { value: 'job' }), /write on the keys under \/app\/q\//);
  assertDenied(await v2('DELETE', '/v2/keys/app/x', basic('reader')), /write on \/app\/x/);
  assertDenied(await v2('DELETE', '/v2/keys/app?recursive=true', basic('one')), /permission denied/);
  assert.is(await valueOf('/app/x'), 'hello2');
  const gone = await v2('DELETE', '/v2/keys/app/q?recursive=true', basic('writer'));
  assert.is(gone.status, 200);
  assert.equal(await stored('/app/q'), []);
  const del = await v2('DELETE', '/v2/keys/app/x', basic('writer'));
  assert.is(del.status, 200);
  assert.is(del.body['prevNode'], undefined, 'a WRITE-only delete does not show the value');
});

test('waits need READ on the key, or on the subtree when recursive', async () => {
  const index = Number((await v2('PUT', '/v2/keys/app/w', basic('app'), { value: 'one' })).headers.get('x-etcd-index'));
  const waited = await v2('GET', `/v2/keys/app/w?wait=true&waitIndex=${index}`, basic('reader'));
  assert.is(waited.status, 200);
  assert.is((waited.body['node'] as Record<string, unknown>)['value'], 'one');
  assertDenied(await v2('GET', `/v2/keys/app/w?wait=true&waitIndex=${index}`, basic('writer')), /read on \/app\/w/);
  assertDenied(await v2('GET', `/v2/keys/app?wait=true&recursive=true&waitIndex=${index}`, basic('reader')), /read on \/app\b/);
  assert.is((await v2('GET', `/v2/keys/app?wait=true&recursive=true&waitIndex=${index}`, basic('root'))).status, 200);
});

test('a v3 token works as basic auth does; a bad token is refused', async () => {
  const token = await node.auth.authenticate('reader', PASSWORDS['reader'] ?? '');
  assert.is((await v2('GET', '/v2/keys/app/w', { authorization: token })).status, 200);
  assertDenied(await v2('PUT', '/v2/keys/app/w', { token }, { value: 'x' }), /permission denied/);
  assertDenied(await v2('GET', '/v2/keys/app/w', { token: 'bogus' }), /invalid auth token/);
});

test('members, machines and stats: reads open, membership changes need root', async () => {
  assert.is((await fetch(`${server.url}/v2/members`)).status, 200);
  assert.is((await fetch(`${server.url}/v2/machines`)).status, 200);
  assert.is((await fetch(`${server.url}/v2/stats/self`)).status, 200);
  const add = await v2('POST', '/v2/members', { ...basic('app'), 'content-type': 'application/json' });
  assertDenied(add, /permission denied \(membership changes need the root role\)/);
  assertDenied(await v2('DELETE', '/v2/members/1234', {}), /user name is empty/);
  assert.is(node.status().members.length, 1);
});

if (hasEtcdctl) {
  test('real etcdctl v2 with --username: granted commands work, refused ones print etcd v2 error 110', async () => {
    const as = (user: string, ...args: string[]): ReturnType<typeof etcdctl2> => etcdctl2(server.url, ['--username', `${user}:${PASSWORDS[user] ?? ''}`, ...args]);
    const set = await as('app', 'set', '/app/e', 'v');
    assert.is(set.code, 0, set.err);
    assert.is(set.out, 'v\n');
    const get = await as('reader', 'get', '/app/e');
    assert.is(get.code, 0, get.err);
    assert.is(get.out, 'v\n');
    const ls = await as('reader', 'ls', '/app');
    assert.is(ls.code, 0, ls.err);
    assert.match(ls.out, /^\/app\/e$/m);
    const denied = await as('reader', 'set', '/app/e', 'nope');
    assert.is.not(denied.code, 0);
    assert.match(denied.err, /110: The request requires user authentication \(Insufficient credentials: permission denied \(write on \/app\/e\)\)/);
    const rm = await as('reader', 'rm', '/app/e');
    assert.is.not(rm.code, 0);
    assert.is(await valueOf('/app/e'), 'v', 'the refused commands changed nothing');
    const wrong = await etcdctl2(server.url, ['--username', 'app:wrong', 'get', '/app/e']);
    assert.is.not(wrong.code, 0);
    assert.match(wrong.err, /110/);
  });
} else console.log('etcdctl not installed: skipping the etcdctl v2 --user test (apt-get install etcd-client)');

test.run();
