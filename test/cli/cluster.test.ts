// Proves the operators' surface end to end: three standalone members run as real processes
// (`quorumkv member …` on free loopback ports, temp data dirs) and the etcdctl session of the
// etcd article is replayed against them — TTL expiry (100), mk twice (105), update of a missing
// key (100), rmdir of a non-empty dir (108), ls, watch, exec-watch, member list/add/update/remove, and
// backup → snapshot restore → a new member serving the same data. Most CLI calls run in-process through `runCli` (the bin's code without process
// startup); a few run the real bin to check exit codes and one-line errors.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, cliProcess, freePort, mainTs, removeDir, root, startMember, tempDir, waitFor } from './helpers.ts';
import type { MemberProcess } from './helpers.ts';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

const dir = tempDir('cluster');
const members: MemberProcess[] = [];
let endpoints = '';
let initialCluster = '';
const execOut = join(dir, 'exec.out');
let execWatch: ChildProcess | undefined;

const ERR = (code: number, message: string, key: string): RegExp =>
  new RegExp(`^Error: {2}${code}: ${message} \\(${key.replace(/\//g, '\\/')}\\) \\[\\d+\\]\\n$`);

test.before(async () => {
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ['n1', 'n2', 'n3'];
  initialCluster = names.map((n, i) => `${n}=ws://127.0.0.1:${ports[i]}`).join(',');
  for (const [i, name] of names.entries()) {
    members.push(startMember({ name, peerPort: ports[i] as number, clientPort: ports[i + 3] as number, dataDir: join(dir, name), initialCluster }));
  }
  endpoints = members.map((m) => m.clientUrl).join(',');
  try {
    await waitFor('a healthy cluster', async () => ((await cli(endpoints, 'endpoint', 'health')).code === 0 ? true : undefined), 90_000, 200);
  } catch (err) {
    // uvu does not report a failing hook: say what happened before failing.
    console.error(String(err), members.map((m) => `--- ${m.name}\n${m.log()}`).join('\n'));
    throw err;
  }
  execWatch = spawn(process.execPath, ['--import', 'tsx', mainTs, '--endpoints', endpoints, 'exec-watch', '/testdir/testkey', '--', 'sh', '-c', `echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE" >> ${execOut}`], { cwd: root, stdio: 'ignore' });
});

test.after(async () => {
  if (execWatch !== undefined && execWatch.exitCode === null) {
    execWatch.kill('SIGKILL');
    await new Promise((r) => execWatch?.once('exit', r));
  }
  await Promise.all(members.map((m) => m.stop()));
  removeDir(dir);
});

test('member logs a JSON startup summary and the elected leader', () => {
  const lines = (members[0]?.log() ?? '').split('\n').filter((l) => l !== '');
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = records.find((r) => r['msg'] === 'quorumkv: starting member');
  assert.ok(summary !== undefined, `no startup summary:\n${lines.join('\n')}`);
  assert.is(summary['member'], 'n1');
  assert.match(String(summary['listenPeerUrl']), /^ws:\/\//);
  assert.match(String(summary['listenClientUrl']), /^http:\/\//);
  assert.is(summary['heartbeatMs'], '50');
  assert.is(summary['electionTimeoutMs'], '500');
  assert.is(summary['snapshotCount'], '10000');
  assert.ok(records.some((r) => r['msg'] === 'raft: elected leader' && /^n\d$/.test(String(r['leader']))), 'the elected leader is logged');
});

test('set --ttl, then get after expiry gives error 100', async () => {
  const set = await cli(endpoints, 'set', '/testdir/testkey', 'Hello world', '--ttl', '2');
  assert.is(set.out, 'Hello world\n');
  assert.is(set.code, 0);
  const expired = await waitFor('the key to expire', async () => {
    const r = await cli(endpoints, 'get', '/testdir/testkey', '--consistent');
    return r.code === 4 ? r : undefined;
  }, 20_000, 250);
  assert.match(expired.err, ERR(100, 'Key not found', '/testdir/testkey'));
  const missing = await cli(endpoints, 'get', '/testdir/testkey2');
  assert.is(missing.code, 4);
  assert.match(missing.err, ERR(100, 'Key not found', '/testdir/testkey2'));
});

test('update, rm, mk follow the article (100, PrevNode.Value, 105)', async () => {
  assert.is((await cli(endpoints, 'set', '/testdir/testkey', 'Hello world')).out, 'Hello world\n');
  assert.is((await cli(endpoints, 'update', '/testdir/testkey', 'Hello')).out, 'Hello\n');
  assert.is((await cli(endpoints, 'get', '/testdir/testkey')).out, 'Hello\n');
  const upd = await cli(endpoints, 'update', '/testdir/testkey2', 'Hello');
  assert.match(upd.err, ERR(100, 'Key not found', '/testdir/testkey2'));
  assert.is((await cli(endpoints, 'rm', '/testdir/testkey')).out, 'PrevNode.Value: Hello\n');
  assert.match((await cli(endpoints, 'rm', '/testdir/testkey')).err, ERR(100, 'Key not found', '/testdir/testkey'));
  assert.is((await cli(endpoints, 'mk', '/testdir/testkey', 'Hello world')).out, 'Hello world\n');
  const again = await cli(endpoints, 'mk', '/testdir/testkey', 'Hello world');
  assert.is(again.code, 4);
  assert.match(again.err, ERR(105, 'Key already exists', '/testdir/testkey'));
  const swap = await cli(endpoints, 'set', '/testdir/testkey', 'x', '--swap-with-value', 'nope');
  assert.match(swap.err, /^Error: {2}101: Compare failed \(\[nope != Hello world\]\) \[\d+\]\n$/);
});

test('mkdir, setdir, updatedir, rmdir (108) and ls', async () => {
  assert.is((await cli(endpoints, 'mkdir', 'testdir2')).code, 0);
  assert.match((await cli(endpoints, 'mkdir', 'testdir2')).err, ERR(105, 'Key already exists', '/testdir2'));
  assert.is((await cli(endpoints, 'setdir', 'testdir3')).code, 0);
  assert.is((await cli(endpoints, 'updatedir', 'testdir2')).code, 0);
  assert.is((await cli(endpoints, 'setdir', 'dir1')).code, 0);
  assert.is((await cli(endpoints, 'rmdir', 'dir1')).code, 0);
  assert.is((await cli(endpoints, 'set', '/dir/testkey', 'hi')).out, 'hi\n');
  const rmdir = await cli(endpoints, 'rmdir', '/dir');
  assert.is(rmdir.code, 4);
  assert.match(rmdir.err, ERR(108, 'Directory not empty', '/dir'));
  assert.is((await cli(endpoints, 'ls', '--sort')).out, '/dir\n/testdir\n/testdir2\n/testdir3\n');
  assert.is((await cli(endpoints, 'ls', 'dir')).out, '/dir/testkey\n');
  assert.is((await cli(endpoints, 'ls', '--recursive', '-p')).out, '/dir/\n/dir/testkey\n/testdir/\n/testdir/testkey\n/testdir2/\n/testdir3/\n');
  const json = JSON.parse((await cli(endpoints, '--json', 'get', '/dir/testkey')).out) as { action: string; node: { key: string; value: string } };
  assert.equal([json.action, json.node.key, json.node.value], ['get', '/dir/testkey', 'hi']);
  assert.match((await cli(endpoints, '--table', 'ls')).out, /\| \/testdir2 +\| true +\|/);
});

test('rm --dir/--recursive/--with-index, mk --in-order, watch --after-index --recursive, --json errors', async () => {
  const q1 = JSON.parse((await cli(endpoints, '--json', 'mk', '--in-order', '/queue', 'job1')).out) as { node: { key: string; modifiedIndex: number } };
  const q2 = JSON.parse((await cli(endpoints, '--json', 'mk', '--in-order', '/queue', 'job2')).out) as { node: { key: string } };
  assert.match(q1.node.key, /^\/queue\/\d{20}$/);
  assert.ok(q1.node.key < q2.node.key);
  assert.is((await cli(endpoints, 'ls', '/queue')).out, `${q1.node.key}\n${q2.node.key}\n`);
  // History replay: the put of job1 is at q1's index.
  const replay = await cli(endpoints, 'watch', '/queue', '--recursive', '--after-index', String(q1.node.modifiedIndex - 1));
  assert.is(replay.out, `[set] ${q1.node.key}\njob1\n`);
  const wrongIndex = await cli(endpoints, 'rm', q1.node.key, '--with-index', '1');
  assert.match(wrongIndex.err, /^Error: {2}101: Compare failed \(\[1 != \d+\]\) \[\d+\]\n$/);
  assert.is((await cli(endpoints, 'rm', q1.node.key, '--with-index', String(q1.node.modifiedIndex))).out, 'PrevNode.Value: job1\n');
  assert.match((await cli(endpoints, 'rm', '/queue')).err, /^Error: {2}102: Not a file \(\/queue\) \[\d+\]\n$/);
  assert.match((await cli(endpoints, 'rm', '/queue', '--dir')).err, ERR(108, 'Directory not empty', '/queue'));
  assert.is((await cli(endpoints, 'rm', '/queue', '--recursive')).code, 0);
  assert.match((await cli(endpoints, 'ls', '/queue')).err, ERR(100, 'Key not found', '/queue'));
  const jsonErr = await cli(endpoints, '--json', 'get', '/queue/none');
  assert.equal(Object.keys(JSON.parse(jsonErr.err) as object), ['message', 'errorCode', 'cause', 'index']);
});

test('setdir --ttl expires the whole subtree', async () => {
  assert.is((await cli(endpoints, 'setdir', '/tmpdir', '--ttl', '2')).code, 0);
  assert.is((await cli(endpoints, 'set', '/tmpdir/a/b', 'x')).code, 0);
  await waitFor('the TTL directory to expire', async () => {
    const r = await cli(endpoints, 'ls', '/tmpdir', '--recursive');
    return r.code === 4 ? r : undefined;
  }, 20_000, 250);
  assert.match((await cli(endpoints, 'get', '/tmpdir/a/b', '--consistent')).err, ERR(100, 'Key not found', '/tmpdir/a/b'));
});

test('watch prints the update and exits', async () => {
  const watching = cli(members[1]?.clientUrl ?? '', 'watch', 'testdir/testkey');
  let done = false;
  void watching.then(() => (done = true));
  // The watch starts "from now": keep writing until it has seen one.
  await waitFor('the watch to fire', async () => {
    if (done) return true;
    await cli(endpoints, 'set', '/testdir/testkey', 'Hello watch');
    return done ? true : undefined;
  }, 10_000, 300);
  const r = await watching;
  assert.is(r.code, 0);
  assert.is(r.out, 'Hello watch\n');
});

test('exec-watch runs its command with the change in the environment', async () => {
  await waitFor('exec-watch to run its command', async () => {
    await cli(endpoints, 'set', '/testdir/testkey', 'exec me');
    return existsSync(execOut) && readFileSync(execOut, 'utf8').includes('exec me') ? true : undefined;
  }, 60_000, 500);
  assert.match(readFileSync(execOut, 'utf8'), /^set \/testdir\/testkey exec me$/m);
  execWatch?.kill('SIGTERM');
  const code = await new Promise((r) => execWatch?.once('exit', r));
  assert.is(code, 0);
});

test('member list, add, remove', async () => {
  const list = await cli(endpoints, 'member', 'list');
  const lines = list.out.trim().split('\n');
  assert.is(lines.length, 3);
  assert.is(lines.filter((l) => l.endsWith('isLeader=true')).length, 1);
  assert.match(lines[0] ?? '', /^[0-9a-f]+: name=n\d peerURLs=ws:\/\/127\.0\.0\.1:\d+ clientURLs=http:\/\/127\.0\.0\.1:\d+ isLeader=(true|false)$/);
  // One member answering lists every member's client URL (replicated, not discovered per endpoint).
  const fromOne = (await cli(members[0]?.clientUrl ?? '', 'member', 'list')).out;
  for (const m of members.slice(0, 3)) assert.match(fromOne, new RegExp(`name=${m.name} peerURLs=${m.peerUrl} clientURLs=${m.clientUrl} `));
  // A learner that never starts does not count towards quorum, so the cluster stays available.
  const peerUrl = `ws://127.0.0.1:${await freePort()}`;
  const add = await cli(endpoints, 'member', 'add', 'n4', peerUrl, '--learner');
  assert.is(add.code, 0, add.err);
  assert.match(add.out, /^Added member named n4 with ID [0-9a-f]+ to cluster\n\nETCD_NAME="n4"\n/);
  assert.match(add.out, new RegExp(`ETCD_INITIAL_CLUSTER=".*n4=${peerUrl}"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$`));
  const withN4 = (await cli(endpoints, 'member', 'list')).out;
  const id = /^([0-9a-f]+): name=n4 peerURLs=\S+ clientURLs= isLeader=false isLearner=true$/m.exec(withN4)?.[1];
  assert.ok(id !== undefined, withN4);
  // update replaces n4's peer URL (it never started, so nothing dials it yet).
  const movedUrl = `ws://127.0.0.1:${await freePort()}`;
  const updated = await cli(endpoints, 'member', 'update', id as string, movedUrl);
  assert.is(updated.out, `Member ${id} updated in cluster\n`, updated.err);
  assert.match((await cli(endpoints, 'member', 'list')).out, new RegExp(`^${id}: name=n4 peerURLs=${movedUrl} clientURLs= isLeader=false isLearner=true$`, 'm'));
  const removed = await cli(endpoints, 'member', 'remove', id);
  assert.is(removed.out, `Removed member ${id} from cluster\n`, removed.err);
  assert.is((await cli(endpoints, 'member', 'list')).out.trim().split('\n').length, 3);
  const ghost = await cli(endpoints, 'member', 'remove', 'ffff');
  assert.is(ghost.code, 4);
  assert.match(ghost.err, /^Error: {2}cluster: member ffff not found \(MEMBER_NOT_FOUND\)\n$/);
});

test('backup, then snapshot restore into a new member with the same data', async () => {
  const backup = await cli(endpoints, 'backup', '--backup-dir', join(dir, 'bk'));
  assert.is(backup.code, 0, backup.err);
  assert.ok(existsSync(join(dir, 'bk', 'backup.snap')));
  const save = await cli(endpoints, 'snapshot', 'save', join(dir, 'snap.db'));
  assert.is(save.out, `Snapshot saved at ${join(dir, 'snap.db')}\n`);
  const [peerPort, clientPort] = [await freePort(), await freePort()];
  const restored = join(dir, 'restored');
  const r = await cli(endpoints, 'snapshot', 'restore', join(dir, 'bk', 'backup.snap'), '--data-dir', restored, '--name', 'r1', '--initial-cluster', `r1=ws://127.0.0.1:${peerPort}`);
  assert.is(r.code, 0, r.err);
  const r1 = startMember({ name: 'r1', peerPort, clientPort, dataDir: restored });
  members.push(r1);
  await waitFor('the restored member', async () => ((await cli(r1.clientUrl, 'get', '/dir/testkey')).out === 'hi\n' ? true : undefined), 60_000, 300);
  assert.is((await cli(r1.clientUrl, 'ls', '--sort')).out, '/dir\n/testdir\n/testdir2\n/testdir3\n');
});

test('exit codes and one-line errors, from the real bin and in-process', async () => {
  const port = await freePort();
  const [missing, down] = await Promise.all([
    cliProcess(['--endpoints', endpoints, 'get', '/nope']),
    cliProcess(['--endpoints', `http://127.0.0.1:${port}`, 'get', '/a']),
  ]);
  assert.is(missing.code, 4);
  assert.match(missing.err, ERR(100, 'Key not found', '/nope'));
  assert.is(down.code, 2);
  assert.match(down.err, /^Error: {2}cluster is unavailable or misconfigured: http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED[^\n]*\n$/);
  const unknown = await cli(endpoints, 'frobnicate');
  assert.is(unknown.code, 1);
  assert.is(unknown.err, "error: unknown command 'frobnicate'\n");
  const badFlag = await cli(endpoints, 'get', '/a', '--bogus');
  assert.is(badFlag.code, 1);
  assert.is(badFlag.err, "error: unknown option '--bogus'\n");
  const badTtl = await cli(endpoints, 'set', '/a', 'b', '--ttl', 'soon');
  assert.is(badTtl.code, 1);
  assert.is(badTtl.err, 'Error:  --ttl must be a whole number of seconds, got soon\n');
});

test.run();
