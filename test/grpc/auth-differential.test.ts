// Differential auth: the same etcdctl session — users, roles, permissions (single keys, --prefix,
// --from-key), `auth enable`, then `--user` reads and writes granted and denied, txn and watch
// under permissions, wrong passwords, root-only calls, `auth disable` — against a real etcd
// (Debian's etcd-server) and a standalone quorumkv member, output for output (exit code, stdout
// and the `Error:` line). Skipped when etcd or etcdctl is not installed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { etcdctl, hasEtcd, normalizedJson, startReferencePair } from './helpers.ts';
import type { ReferencePair } from './helpers.ts';

let etcdEp = '';
let qkvEp = '';

/** Output of one command on a server: exit code, stdout, and the `Error:` line without log noise. */
async function run(ep: string, args: string[], stdin?: string): Promise<string> {
  const r = await etcdctl(ep, args, stdin === undefined ? {} : { stdin });
  const errLine = r.err.split('\n').filter((l) => l.startsWith('Error:')).join('\n');
  // Ids and revisions inside `-w json` headers differ by nature; this session compares text output.
  return `${r.code}\n${r.out}${errLine}`;
}

async function sameJson(args: string[]): Promise<void> {
  const a = await run(etcdEp, [...args, '-w', 'json']);
  const b = await run(qkvEp, [...args, '-w', 'json']);
  assert.equal(normalizedJson(b), normalizedJson(a), `etcdctl ${args.join(' ')} -w json\netcd: ${a}\nquorumkv: ${b}`);
}

async function same(args: string[], stdin?: string): Promise<string> {
  const a = await run(etcdEp, args, stdin);
  const b = await run(qkvEp, args, stdin);
  if (process.env['QKV_TEST_LOG'] === '1') console.log(`$ etcdctl ${args.join(' ')}\n${a}`);
  assert.is(b, a, `etcdctl ${args.join(' ')}`);
  return a;
}

const ROOT = ['--user', 'root:rootpw'];
const ALICE = ['--user', 'alice:alicepw'];

if (!hasEtcd) {
  console.log('etcd or etcdctl not installed: skipping the auth differential test (apt-get install etcd-server etcd-client)');
} else {
  let pair: ReferencePair | undefined;
  test.before(async () => {
    pair = await startReferencePair('grpc-auth-diff');
    etcdEp = pair.etcdEp;
    qkvEp = pair.qkvEp;
  });
  test.after(async () => {
    await pair?.stop();
  });

  test('users and roles before auth is enabled', async () => {
    await same(['auth', 'enable']);
    await same(['user', 'add', 'root:rootpw']);
    await same(['user', 'add', 'root:again']);
    await same(['user', 'get', 'root']);
    await same(['user', 'add', 'alice:alicepw']);
    await same(['user', 'add', 'bob', '--no-password']);
    await same(['role', 'add', 'reader']);
    await same(['role', 'add', 'reader']);
    await same(['role', 'grant-permission', 'reader', 'read', 'pub/', '--prefix']);
    await same(['role', 'grant-permission', 'reader', 'readwrite', 'mine']);
    await same(['role', 'grant-permission', 'reader', 'write', 'w/', 'w0']);
    await same(['role', 'grant-permission', 'reader', 'read', 'z', '--from-key']);
    await same(['role', 'grant-permission', 'nobody', 'read', 'x']);
    await same(['user', 'grant-role', 'alice', 'reader']);
    await same(['user', 'grant-role', 'alice', 'reader']);
    await same(['user', 'grant-role', 'alice', 'nope']);
    await same(['user', 'grant-role', 'carol', 'reader']);
    await same(['role', 'get', 'reader']);
    await same(['role', 'list']);
    await same(['user', 'list']);
    await same(['user', 'get', 'alice']);
    await same(['user', 'get', 'carol']);
    await sameJson(['user', 'get', 'alice']);
    await sameJson(['role', 'get', 'reader']);
    await sameJson(['user', 'list']);
    await sameJson(['role', 'list']);
    await same(['put', 'pub/a', 'A']);
    await same(['put', 'secret', 'S']);
  });

  test('auth enable: granted and denied with the users\' rights', async () => {
    // etcdctl adds the root role and grants it to root when enable answers "root user does not have root role".
    await same(['auth', 'enable']);
    await same(['auth', 'enable']);
    await same([...ROOT, 'role', 'get', 'root']);
    await same([...ROOT, 'user', 'get', 'root']);
    await same(['get', 'pub/a']);
    await same(['put', 'x', '1']);
    await same([...ALICE, 'get', 'pub/a']);
    await same([...ALICE, 'get', 'pub/', '--prefix']);
    await same([...ALICE, 'put', 'pub/a', 'B']);
    await same([...ALICE, 'get', 'secret']);
    await same([...ALICE, 'put', 'mine', 'M']);
    await same([...ALICE, 'get', 'mine']);
    await same([...ALICE, 'put', 'w/1', 'W']);
    await same([...ALICE, 'get', 'w/1']);
    await same([...ALICE, 'get', 'zz', '--from-key', '--keys-only']);
    await same([...ALICE, 'get', '', '--prefix']);
    await same([...ALICE, 'del', 'mine']);
    await same([...ALICE, 'del', 'pub/a']);
    await same(['--user', 'alice:wrong', 'get', 'pub/a']);
    await same(['--user', 'bob:', 'get', 'pub/a']);
    await same(['--user', 'nobody:pw', 'get', 'pub/a']);
    await same([...ROOT, 'get', 'secret']);
    await same([...ROOT, 'put', 'secret', 'S2']);
    // A watch on a key without READ is refused (created + canceled with the reason) and etcdctl exits.
    await same([...ALICE, 'watch', 'secret']);
    await same([...ALICE, 'lock', 'mylock', 'echo', 'held']);
  });

  test('txn and admin calls under auth', async () => {
    await same([...ALICE, 'txn'], 'value("mine") = "M"\n\nput mine N\n\nget secret\n\n');
    await same([...ALICE, 'txn'], 'value("pub/a") = "A"\n\nget pub/a\n\nget mine\n\n');
    await same([...ALICE, 'user', 'list']);
    await same([...ALICE, 'role', 'get', 'reader']);
    await same([...ALICE, 'user', 'get', 'alice']);
    await same([...ALICE, 'user', 'add', 'eve:pw']);
    await same([...ROOT, 'user', 'list']);
    await same([...ROOT, 'user', 'delete', 'root']);
    await same([...ROOT, 'role', 'delete', 'root']);
    await same([...ROOT, 'user', 'revoke-role', 'root', 'root']);
    await same([...ROOT, 'role', 'revoke-permission', 'reader', 'mine']);
    await same([...ROOT, 'role', 'revoke-permission', 'reader', 'mine']);
    await same([...ALICE, 'put', 'mine', 'again']);
    await same([...ROOT, 'user', 'passwd', 'alice'], 'newpw\nnewpw\n');
    await same([...ALICE, 'get', 'pub/a']);
    await same(['--user', 'alice:newpw', 'get', 'pub/a']);
    await same([...ROOT, 'user', 'revoke-role', 'alice', 'reader']);
    await same([...ROOT, 'user', 'revoke-role', 'alice', 'reader']);
    await same(['--user', 'alice:newpw', 'get', 'pub/a']);
  });

  test('auth disable: everything open again', async () => {
    await same(['auth', 'disable']);
    await same([...ROOT, 'auth', 'disable']);
    await same(['get', 'secret']);
    await same(['--user', 'alice:newpw', 'get', 'pub/a']);
    await same(['user', 'delete', 'bob']);
    await same(['role', 'delete', 'reader']);
    await same(['user', 'get', 'alice']);
    await same(['role', 'list']);
  });

  test.run();
}
