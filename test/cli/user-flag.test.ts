// Proves the `quorumkv` CLI's `--user name[:password]` against an in-process member with etcd auth
// enabled: the CLI authenticates once per endpoint and sends the token, so a user's permitted
// writes and reads succeed and others fail with the auth error (exit code and message); the
// password comes from `name:password` or QUORUMKV_PASSWORD; a wrong password, an unknown user
// and no user at all are refused; no token is ever printed; a user granted one prefix runs the
// key and directory commands inside it and is refused outside it.
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
const all = { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) };

test.before(async () => {
  node = await createNode({ id: 'cu', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  server = await startClientEndpoint(node, { port: 0 });
  // The embedding app is trusted: it sets auth up in-process.
  await node.auth.addUser('root', 'rootpw');
  await node.auth.grantRole('root', 'root');
  await node.auth.addUser('ops', 'opspw');
  await node.auth.addRole('everything');
  await node.auth.grantPermission('everything', { type: 'readwrite', ...all });
  await node.auth.grantRole('ops', 'everything');
  await node.auth.addUser('viewer', 'viewpw');
  await node.auth.addRole('reader');
  await node.auth.grantPermission('reader', { type: 'read', ...all });
  await node.auth.grantRole('viewer', 'reader');
  await node.auth.addUser('team', 'teampw');
  await node.auth.addRole('team-keys');
  await node.auth.grantPermission('team-keys', { type: 'readwrite', key: new TextEncoder().encode('/team/'), rangeEnd: new TextEncoder().encode('/team0') });
  await node.auth.grantRole('team', 'team-keys');
  await node.auth.enable();
});
test.after(async () => {
  delete process.env['QUORUMKV_PASSWORD'];
  await server.close();
  await node.close();
});

test('a user with the rights writes and reads; without them it is refused', async () => {
  const set = await cli(server.url, '--user', 'ops:opspw', 'set', '/app/x', 'hello');
  assert.is(set.code, 0, set.err);
  assert.is(set.out, 'hello\n');
  const get = await cli(server.url, '--user', 'viewer:viewpw', 'get', '/app/x');
  assert.is(get.code, 0, get.err);
  assert.is(get.out, 'hello\n');
  const denied = await cli(server.url, '--user', 'viewer:viewpw', 'set', '/app/x', 'nope');
  assert.is.not(denied.code, 0);
  assert.match(denied.err, /permission denied/);
  const kept = await cli(server.url, '--user', 'ops:opspw', 'get', '/app/x');
  assert.is(kept.out, 'hello\n', 'the refused write changed nothing');
  const anonymous = await cli(server.url, 'get', '/app/x');
  assert.is.not(anonymous.code, 0);
  assert.match(anonymous.err, /user name is empty/);
});

test('the password from QUORUMKV_PASSWORD; wrong passwords and unknown users refused', async () => {
  process.env['QUORUMKV_PASSWORD'] = 'opspw';
  const env = await cli(server.url, '--user', 'ops', 'get', '/app/x');
  assert.is(env.code, 0, env.err);
  assert.is(env.out, 'hello\n');
  process.env['QUORUMKV_PASSWORD'] = 'wrong';
  const wrong = await cli(server.url, '--user', 'ops', 'get', '/app/x');
  assert.is.not(wrong.code, 0);
  assert.match(wrong.err, /authentication failed, invalid user ID or password/);
  assert.not.match(wrong.err + wrong.out, /wrong/, 'the password is not echoed');
  const unknown = await cli(server.url, '--user', 'ghost:pw', 'get', '/app/x');
  assert.match(unknown.err, /authentication failed/);
  const noName = await cli(server.url, '--user', ':pw', 'get', '/app/x');
  assert.match(noName.err, /--user needs a user name/);
});

test('a user granted one prefix: key and directory commands inside it work, outside are refused', async () => {
  const as = (...args: string[]): ReturnType<typeof cli> => cli(server.url, '--user', 'team:teampw', ...args);
  const mkdir = await as('mkdir', '/team/d');
  assert.is(mkdir.code, 0, mkdir.err);
  assert.is((await as('set', '/team/d/k', 'v')).code, 0);
  const ls = await as('ls', '--recursive', '/team');
  assert.is(ls.code, 0, ls.err);
  assert.match(ls.out, /^\/team\/d\/k$/m);
  const root = await as('ls', '/');
  assert.is(root.code, 3);
  assert.match(root.err, /^Error: {2}110: The request requires user authentication \(Insufficient credentials: permission denied \(read on the keys under \/\)\) \[\d+\]$/m);
  const outside = await as('set', '/other', 'v');
  assert.is(outside.code, 3);
  assert.match(outside.err, /permission denied \(write on \/other\)/);
  assert.is(await node.get('/other'), undefined, 'the refused write changed nothing');
  const rm = await as('rm', '--recursive', '/team/d');
  assert.is(rm.code, 0, rm.err);
  assert.equal((await node.range({ prefix: '/team/d' })).kvs, []);
});

test.run();
