// Debian's real etcdctl against three `quorumkv member` processes with auth: users and roles
// created through one member are enforced by the others (the auth state is replicated), `auth
// enable` and `--user` access granted and denied with etcd's texts, root-only calls, tokens of
// one member refused by another, `member list` / `endpoint status` open as in etcd, and `auth
// disable` through another member. Skipped (with a note) when etcdctl is not installed.
import { connect } from 'node:http2';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { etcdctl, hasEtcdctl, startProcessCluster } from './helpers.ts';
import type { EtcdctlResult, ProcessCluster } from './helpers.ts';

let c: ProcessCluster;
const one = (i: number): string => c.endpointOf(c.members[i] as (typeof c.members)[number]);
const run = (i: number, args: string[], stdin?: string): Promise<EtcdctlResult> => etcdctl(one(i), args, stdin === undefined ? {} : { stdin });
async function ok(i: number, args: string[], stdin?: string): Promise<string> {
  const r = await run(i, args, stdin);
  assert.is(r.code, 0, `etcdctl ${args.join(' ')} on member ${i} failed: ${r.err}`);
  return r.out;
}
async function fails(i: number, args: string[], text: string, stdin?: string): Promise<void> {
  const r = await run(i, args, stdin);
  assert.is.not(r.code, 0, `etcdctl ${args.join(' ')} on member ${i} should fail`);
  assert.ok(r.err.includes(`Error: ${text}`), `etcdctl ${args.join(' ')}: ${r.err}`);
}
const ROOT = ['--user', 'root:rootpw'];
const U = ['--user', 'u:upw'];

/** A raw unary gRPC call (a framed empty-ish message), its grpc-status and grpc-message. */
function rawCall(endpoint: string, path: string, body: Uint8Array, token?: string): Promise<{ status: string; message: string; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${endpoint}`);
    session.on('error', reject);
    const headers: Record<string, string> = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' };
    if (token !== undefined) headers['token'] = token;
    const req = session.request(headers);
    const chunks: Buffer[] = [];
    let status = '';
    let message = '';
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) [status, message] = [String(h['grpc-status']), decodeURIComponent(String(h['grpc-message'] ?? ''))];
    });
    req.on('trailers', (t) => {
      [status, message] = [String(t['grpc-status']), decodeURIComponent(String(t['grpc-message'] ?? ''))];
    });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      session.close();
      resolve({ status, message, data: Buffer.concat(chunks) });
    });
    req.on('error', reject);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    Buffer.from(body).copy(frame, 5);
    req.end(frame);
  });
}

/** AuthenticateRequest { name = 1, password = 2 }. */
function authenticateRequest(name: string, password: string): Uint8Array {
  const n = Buffer.from(name);
  const p = Buffer.from(password);
  return Buffer.concat([Buffer.from([0x0a, n.length]), n, Buffer.from([0x12, p.length]), p]);
}

/** The token (field 2) of an AuthenticateResponse after the 5-byte frame header. */
function tokenOf(data: Buffer): string {
  const msg = data.subarray(5);
  let at = 0;
  while (at < msg.length) {
    const tag = msg[at++]!;
    const len = msg[at++]!;
    if (tag === 0x12) return msg.subarray(at, at + len).toString();
    at += len;
  }
  throw new Error('no token in the response');
}

if (!hasEtcdctl) {
  console.log('etcdctl not installed: skipping the etcdctl auth tests (apt-get install etcd-client)');
} else {
  test.before(async () => {
    c = await startProcessCluster('grpc-auth');
  });
  test.after(async () => {
    await c?.stop();
  });

  test('users and roles made on one member, enforced on every member', async () => {
    assert.is(await ok(0, ['user', 'add', 'root:rootpw']), 'User root created\n');
    assert.is(await ok(1, ['user', 'add', 'u:upw']), 'User u created\n');
    assert.is(await ok(2, ['role', 'add', 'app']), 'Role app created\n');
    assert.is(await ok(0, ['role', 'grant-permission', 'app', '--prefix', 'readwrite', 'app/']), 'Role app updated\n');
    assert.is(await ok(1, ['role', 'grant-permission', 'app', 'read', 'shared']), 'Role app updated\n');
    assert.is(await ok(2, ['user', 'grant-role', 'u', 'app']), 'Role app is granted to user u\n');
    assert.is(await ok(0, ['user', 'list']), 'root\nu\n');
    assert.is(await ok(1, ['user', 'get', 'u']), 'User: u\nRoles: app\n');
    assert.is(await ok(2, ['role', 'get', 'app']), 'Role app\nKV Read:\n\t[app/, app0) (prefix app/)\n\tshared\nKV Write:\n\t[app/, app0) (prefix app/)\n');
    await ok(0, ['put', 'shared', 'S']);
    await ok(0, ['put', 'other', 'O']);
    assert.is(await ok(1, ['auth', 'enable']), 'Authentication Enabled\n');
  });

  test('with auth enabled: granted and denied on each member', async () => {
    for (const i of [0, 1, 2]) {
      await fails(i, ['get', 'shared'], 'etcdserver: user name is empty');
      assert.is(await ok(i, [...U, 'put', `app/${i}`, String(i)]), 'OK\n');
      assert.is(await ok(i, [...U, 'get', 'shared']), 'shared\nS\n');
      await fails(i, [...U, 'put', 'shared', 'x'], 'etcdserver: permission denied');
      await fails(i, [...U, 'get', 'other'], 'etcdserver: permission denied');
      await fails(i, ['--user', 'u:wrong', 'get', 'shared'], 'etcdserver: authentication failed, invalid user ID or password');
    }
    assert.is(await ok(2, [...U, 'get', 'app/', '--prefix', '--keys-only']), 'app/0\n\napp/1\n\napp/2\n\n');
    await fails(0, [...U, 'get', '', '--prefix'], 'etcdserver: permission denied');
    assert.is(await ok(1, [...ROOT, 'get', 'other']), 'other\nO\n');
    // A txn is checked op by op in both branches.
    await fails(2, [...U, 'txn'], 'etcdserver: permission denied', 'value("shared") = "S"\n\nput app/t yes\n\nput other x\n\n');
    assert.is(await ok(2, [...U, 'txn'], 'value("shared") = "S"\n\nput app/t yes\n\nget app/0\n\n'), 'SUCCESS\n\nOK\n');
    // Root-only calls.
    await fails(0, [...U, 'user', 'list'], 'etcdserver: permission denied');
    await fails(1, [...U, 'compaction', '2'], 'etcdserver: permission denied');
    await fails(2, [...U, 'snapshot', 'save', '/dev/null'], 'etcdserver: permission denied');
    assert.is(await ok(0, [...ROOT, 'user', 'list']), 'root\nu\n');
    // Open as in etcd 3.4: probes and the member list.
    assert.match(await ok(0, ['member', 'list']), /g1/);
    assert.match(await ok(1, ['endpoint', 'status']), /, false, |, true, /);
  });

  test('a token works on the member that issued it only, and dies with a password change', async () => {
    const auth = await rawCall(one(0), '/etcdserverpb.Auth/Authenticate', authenticateRequest('u', 'upw'));
    assert.is(auth.status, '0', auth.message);
    const token = tokenOf(auth.data);
    assert.ok(token.length >= 16, token);
    // RangeRequest { key = "shared" }.
    const get = Buffer.concat([Buffer.from([0x0a, 6]), Buffer.from('shared')]);
    assert.is((await rawCall(one(0), '/etcdserverpb.KV/Range', get, token)).status, '0');
    const elsewhere = await rawCall(one(1), '/etcdserverpb.KV/Range', get, token);
    assert.equal([elsewhere.status, elsewhere.message], ['16', 'etcdserver: invalid auth token']);
    const denied = await rawCall(one(0), '/etcdserverpb.KV/Range', Buffer.concat([Buffer.from([0x0a, 5]), Buffer.from('other')]), token);
    assert.equal([denied.status, denied.message], ['7', 'etcdserver: permission denied']);
    await ok(2, [...ROOT, 'user', 'passwd', 'u'], 'newpw\nnewpw\n');
    // Member 0 applies the change before answering a linearizable read of it.
    await ok(0, [...ROOT, 'user', 'get', 'u']);
    const stale = await rawCall(one(0), '/etcdserverpb.KV/Range', get, token);
    assert.equal([stale.status, stale.message], ['16', 'etcdserver: invalid auth token']);
    const badLogin = await rawCall(one(1), '/etcdserverpb.Auth/Authenticate', authenticateRequest('u', 'upw'));
    assert.equal([badLogin.status, badLogin.message], ['3', 'etcdserver: authentication failed, invalid user ID or password']);
  });

  test('auth disable through another member opens everything again', async () => {
    await fails(2, ['auth', 'disable'], 'etcdserver: user name is empty');
    assert.is(await ok(2, [...ROOT, 'auth', 'disable']), 'Authentication Disabled\n');
    assert.is(await ok(0, ['get', 'other']), 'other\nO\n');
    assert.is(await ok(1, ['put', 'shared', 'open']), 'OK\n');
  });

  test.run();
}
