// Proves the `quorumkv` CLI's auth commands (`user …`, `role …`, `auth enable|disable`) against an
// in-process member: etcdctl 3.4's output texts (as test/grpc/auth-differential.test.ts records
// them from a real etcd), `--prefix` / `--from-key` / single-key permissions shown as etcdctl
// shows them, `auth enable` giving root the root role as etcdctl does, root-only commands refused
// to another user, and etcd's error texts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import { createNode } from '../../src/create-node.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { cli } from './helpers.ts';

let node: QuorumNode;
let server: ClientServer;
async function out(...argv: string[]): Promise<string> {
  const r = await cli(server.url, ...argv);
  assert.is(r.code, 0, `quorumkv ${argv.join(' ')}: ${r.err}`);
  return r.out;
}
async function fails(text: RegExp, ...argv: string[]): Promise<void> {
  const r = await cli(server.url, ...argv);
  assert.is.not(r.code, 0, `quorumkv ${argv.join(' ')} should fail`);
  assert.match(r.err, text);
}

test.before(async () => {
  node = await createNode({ id: 'ac', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  server = await startClientEndpoint(node, { port: 0 });
});
test.after(async () => {
  await server.close();
  await node.close();
});

test('users, roles and permissions with etcdctl\'s texts', async () => {
  await fails(/root user does not exist/, 'auth', 'enable');
  assert.is(await out('user', 'add', 'root:rootpw'), 'User root created\n');
  await fails(/user name already exists/, 'user', 'add', 'root:again');
  assert.is(await out('user', 'add', 'alice:alicepw'), 'User alice created\n');
  assert.is(await out('user', 'add', 'bob', '--no-password'), 'User bob created\n');
  assert.is(await out('role', 'add', 'reader'), 'Role reader created\n');
  assert.is(await out('role', 'grant-permission', 'reader', 'read', 'pub/', '--prefix'), 'Role reader updated\n');
  await out('role', 'grant-permission', 'reader', 'readwrite', 'mine');
  await out('role', 'grant-permission', 'reader', 'write', 'w/', 'w0');
  await out('role', 'grant-permission', 'reader', 'read', 'z', '--from-key');
  await fails(/role name not found/, 'role', 'grant-permission', 'nobody', 'read', 'x');
  assert.is(await out('user', 'grant-role', 'alice', 'reader'), 'Role reader is granted to user alice\n');
  assert.is(await out('role', 'get', 'reader'), 'Role reader\nKV Read:\n\tmine\n\t[pub/, pub0) (prefix pub/)\n\t[z, <open ended>\nKV Write:\n\tmine\n\t[w/, w0) (prefix w/)\n');
  assert.is(await out('user', 'list'), 'alice\nbob\nroot\n');
  assert.is(await out('user', 'get', 'alice'), 'User: alice\nRoles: reader\n');
  assert.is(await out('role', 'list'), 'reader\n');
  assert.is(await out('role', 'revoke-permission', 'reader', 'w/', 'w0'), 'Permission of key w/ is revoked from role reader\n');
  await fails(/permission is not granted to the role/, 'role', 'revoke-permission', 'reader', 'w/', 'w0');
});

test('auth enable grants root its role; root-only commands; disable', async () => {
  assert.is(await out('auth', 'enable'), 'Authentication Enabled\n');
  assert.is(await out('--user', 'root:rootpw', 'user', 'get', 'root'), 'User: root\nRoles: root\n');
  await fails(/user name is empty/, 'user', 'list');
  await fails(/permission denied/, '--user', 'alice:alicepw', 'user', 'list');
  assert.is(await out('--user', 'alice:alicepw', 'user', 'get', 'alice'), 'User: alice\nRoles: reader\n', 'a user reads itself');
  await fails(/invalid auth management/, '--user', 'root:rootpw', 'user', 'delete', 'root');
  assert.is(await out('--user', 'root:rootpw', 'user', 'revoke-role', 'alice', 'reader'), 'Role reader is revoked from user alice\n');
  await fails(/role is not granted to the user/, '--user', 'root:rootpw', 'user', 'revoke-role', 'alice', 'reader');
  assert.is(await out('--user', 'root:rootpw', 'auth', 'disable'), 'Authentication Disabled\n');
  assert.is(await out('user', 'delete', 'bob'), 'User bob deleted\n');
  assert.is(await out('role', 'delete', 'reader'), 'Role reader deleted\n');
  assert.is(await out('role', 'list'), 'root\n');
});

test.run();
