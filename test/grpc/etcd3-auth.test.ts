// The `etcd3` npm client (grpc-js) with etcd auth against an in-process quorumkv member's client
// endpoint: users, roles and prefix permissions made through the client's auth API, `auth
// enable`, then clients built with `auth: { username, password }` whose reads and writes are
// granted or refused with etcd3's typed errors (EtcdPermissionDeniedError,
// EtcdAuthenticationFailedError), watches and leases under a user (a lease holding a key the user
// may not write can be neither extended with a put nor revoked), and auth disabled again.
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError, EtcdRoleExistsError, EtcdUserNotFoundError, Range } from 'etcd3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import { createNode } from '../../src/create-node.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';

let node: QuorumNode;
let server: ClientServer;
let admin: Etcd3;
const clients: Etcd3[] = [];
const client = (auth?: { username: string; password: string }): Etcd3 => {
  const c = new Etcd3({ hosts: server.url, ...(auth === undefined ? {} : { auth }) });
  clients.push(c);
  return c;
};

async function rejects(p: PromiseLike<unknown>, type: new (...args: never[]) => Error, what: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, type, `${what}: ${String(err)}`);
    return;
  }
  assert.unreachable(`${what} should be refused`);
}

test.before(async () => {
  node = await createNode({ id: 'e3a', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  server = await startClientEndpoint(node, { port: 0 });
  admin = client();
});
test.after(async () => {
  for (const c of clients) c.close();
  await server.close();
  await node.close();
});

test('users, roles and permissions through the client', async () => {
  await admin.user('root').create('rootpw');
  await admin.user('root').addRole('root');
  await admin.role('app').create();
  await rejects(admin.role('app').create(), EtcdRoleExistsError, 'a second role add');
  await admin.role('app').grant({ permission: 'Readwrite', range: Range.prefix('app/') });
  await admin.role('app').grant({ permission: 'Read', key: 'config' });
  await admin.user('dev').create('devpw');
  await admin.user('dev').addRole('app');
  assert.equal((await admin.getUsers()).map((u) => u.name).sort(), ['dev', 'root']);
  assert.equal((await admin.user('dev').roles()).map((r) => r.name), ['app']);
  const perms = await admin.role('app').permissions();
  assert.equal(perms.map((p) => [p.permission, p.range.start.toString(), p.range.end.toString()]), [['Readwrite', 'app/', 'app0'], ['Read', 'config', '']]);
  await rejects(admin.user('ghost').addRole('app'), EtcdUserNotFoundError, 'grant to a missing user');
  await admin.put('config').value('C');
  await admin.put('private').value('P');
  await admin.auth.authEnable();
});

test('auth enabled: a user client is granted and refused by its permissions', async () => {
  const dev = client({ username: 'dev', password: 'devpw' });
  await dev.put('app/x').value('1');
  assert.is(await dev.get('app/x').string(), '1');
  assert.is(await dev.get('config').string(), 'C');
  assert.equal(await dev.getAll().prefix('app/').keys(), ['app/x']);
  await rejects(dev.put('config').value('no').exec(), EtcdPermissionDeniedError, 'write to a read-only key');
  await rejects(dev.get('private').string(), EtcdPermissionDeniedError, 'read outside the permissions');
  await rejects(dev.getAll().keys(), EtcdPermissionDeniedError, 'read of everything');
  await rejects(dev.getUsers(), EtcdPermissionDeniedError, 'a root-only call');
  // Watch and lease under the user.
  const watcher = await dev.watch().prefix('app/').create();
  const seen = new Promise<string>((resolve) => watcher.on('put', (kv) => resolve(kv.value.toString())));
  await dev.put('app/y').value('2');
  assert.is(await seen, '2');
  await watcher.cancel();
  const lease = dev.lease(10);
  await lease.put('app/leased').value('L');
  await lease.revoke();
  assert.is(await dev.get('app/leased').string(), null);
  const wrong = client({ username: 'dev', password: 'nope' });
  await rejects(wrong.get('app/x').string(), EtcdAuthenticationFailedError, 'a wrong password');
  const rootClient = client({ username: 'root', password: 'rootpw' });
  assert.is(await rootClient.get('private').string(), 'P');
  assert.equal((await rootClient.getRoles()).map((r) => r.name).sort(), ['app']);
  // A lease carrying a key the user may not write: attaching to it or revoking it is refused.
  const shared = dev.lease(30, { autoKeepAlive: false });
  const id = await shared.grant();
  await rootClient.put('private2').value('x').lease(id);
  await rejects(dev.put('app/z').value('z').lease(id).exec(), EtcdPermissionDeniedError, 'a put on a lease holding a foreign key');
  await rejects(shared.revoke(), EtcdPermissionDeniedError, 'revoking a lease holding a foreign key');
  assert.is(await rootClient.get('private2').string(), 'x');
  shared.release();
  await rootClient.auth.authDisable();
  assert.is(await admin.get('private').string(), 'P');
});

test.run();
