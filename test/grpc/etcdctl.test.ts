// Debian's real etcdctl (v3 API, gRPC) against three standalone `quorumkv member` processes:
// put/get/del with their flags, txn from stdin, watch (--prefix --rev --prev-kv, resumed across a
// leader kill), leases, member list, endpoint status/health/hashkv, compaction, alarm, defrag and
// etcd's error texts. Skipped (with a note) when etcdctl is not installed.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, freePort, startMember, waitFor } from '../cli/helpers.ts';
import { etcdctl, etcdctlProcess, hasEtcdctl, startProcessCluster } from './helpers.ts';
import type { ProcessCluster } from './helpers.ts';

let c: ProcessCluster;
const ok = async (endpoints: string, args: string[], stdin?: string): Promise<string> => {
  const r = await etcdctl(endpoints, args, stdin === undefined ? {} : { stdin });
  assert.is(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.err}`);
  return r.out;
};
const one = (i: number): string => c.endpointOf(c.members[i] as (typeof c.members)[number]);

if (!hasEtcdctl) {
  console.log('etcdctl not installed: skipping the etcdctl tests (apt-get install etcd-client)');
} else {
  test.before(async () => {
    c = await startProcessCluster('grpc-etcdctl');
  });
  test.after(async () => {
    await c?.stop();
  });

  test('put on one member, get from another: prefix, keys-only, limit, sort, json, fields', async () => {
    assert.is(await ok(one(0), ['put', 'app/a', '1']), 'OK\n');
    await ok(one(0), ['put', 'app/b', '2']);
    await ok(one(1), ['put', 'app/c', '3']);
    assert.is(await ok(one(2), ['get', 'app/b']), 'app/b\n2\n');
    assert.is(await ok(one(2), ['get', 'app/', '--prefix', '--keys-only']), 'app/a\n\napp/b\n\napp/c\n\n');
    assert.is(await ok(one(1), ['get', 'app/', '--prefix', '--limit', '2', '--sort-by', 'KEY', '--order', 'DESCEND']), 'app/c\n3\napp/b\n2\n');
    assert.match(await ok(one(0), ['get', 'app/', '--prefix', '--keys-only', '-w', 'fields']), /"Count" : 3\n/);
    const json = JSON.parse(await ok(one(0), ['get', 'app/a', '-w', 'json'])) as { header: { revision: number }; kvs: { key: string; value: string; create_revision: number; mod_revision: number; version: number }[]; count: number };
    assert.is(json.count, 1);
    assert.is(Buffer.from(json.kvs[0]?.key ?? '', 'base64').toString(), 'app/a');
    assert.is(Buffer.from(json.kvs[0]?.value ?? '', 'base64').toString(), '1');
    assert.is(json.kvs[0]?.version, 1);
    // etcd numbering: the empty store is revision 1, so the first write is 2.
    assert.ok((json.kvs[0]?.create_revision ?? 0) >= 2);
    assert.ok(json.header.revision >= 4);
    // --rev reads the past: app/a's first revision holds only app/a.
    const rev = String(json.kvs[0]?.mod_revision);
    assert.is(await ok(one(1), ['get', 'app/', '--prefix', '--rev', rev]), 'app/a\n1\n');
    assert.is(await ok(one(1), ['get', 'app/', '--prefix', '--rev', '1']), '');
    assert.is(await ok(one(2), ['get', 'app/c', '--print-value-only']), '3\n');
    assert.is(await ok(one(2), ['put', 'app/c', '33', '--prev-kv']), 'OK\napp/c\n3\n');
    assert.is(await ok(one(2), ['get', '', '--from-key', '--keys-only', '--limit', '1']), 'app/a\n\n');
  });

  test('del with --prev-kv and --prefix; del of a missing key', async () => {
    await ok(one(0), ['put', 'del/x', 'X']);
    await ok(one(0), ['put', 'del/y', 'Y']);
    assert.is(await ok(one(1), ['del', 'del/x', '--prev-kv']), '1\ndel/x\nX\n');
    assert.is(await ok(one(2), ['del', 'del/', '--prefix']), '1\n');
    assert.is(await ok(one(2), ['del', 'del/none']), '0\n');
  });

  test('txn from stdin: success and failure branches', async () => {
    await ok(one(0), ['put', 'tx/k', 'v1']);
    const yes = await ok(one(1), ['txn'], 'value("tx/k") = "v1"\n\nput tx/r yes\nget tx/k\n\nput tx/r no\n\n');
    assert.is(yes, 'SUCCESS\n\nOK\n\ntx/k\nv1\n');
    const no = await ok(one(2), ['txn'], 'mod("tx/k") > "1000000"\n\nput tx/r yes\n\nput tx/r no\nget tx/r\n\n');
    assert.is(no, 'FAILURE\n\nOK\n\ntx/r\nno\n');
    const json = JSON.parse(await ok(one(2), ['txn', '-w', 'json'], 'create("tx/absent") = "0"\n\nput tx/new 1\n\n\n')) as { succeeded?: boolean };
    assert.is(json.succeeded, true);
  });

  test('leases: grant, put --lease, timetolive --keys, list, keep-alive --once, revoke', async () => {
    const granted = await ok(one(0), ['lease', 'grant', '60']);
    const id = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted)?.[1];
    assert.ok(id, granted);
    await ok(one(1), ['put', 'ls/k', 'v', '--lease', id as string]);
    const ttl = await ok(one(2), ['lease', 'timetolive', id as string, '--keys']);
    assert.match(ttl, new RegExp(`lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[ls/k\\]\\)`));
    assert.match(await ok(one(0), ['lease', 'list']), new RegExp(`found \\d+ leases\\n(.*\\n)*${id}\\n`));
    assert.match(await ok(one(1), ['lease', 'keep-alive', '--once', id as string]), new RegExp(`lease ${id} keepalived with TTL\\(\\d+\\)`));
    assert.is(await ok(one(2), ['lease', 'revoke', id as string]), `lease ${id} revoked\n`);
    assert.is(await ok(one(0), ['get', 'ls/k']), '');
    const again = await etcdctl(one(0), ['lease', 'revoke', id as string]);
    assert.is.not(again.code, 0);
    assert.match(again.err, 'etcdserver: requested lease not found');
    assert.match(await ok(one(0), ['lease', 'timetolive', id as string]), `lease ${id} already expired`);
  });

  test('member list, endpoint status and health on every member', async () => {
    const table = await ok(one(0), ['member', 'list', '-w', 'table']);
    for (const m of c.members) assert.match(table, m.name);
    const list = JSON.parse(await ok(one(1), ['member', 'list', '-w', 'json'])) as { members: { name: string; peerURLs: string[] }[] };
    assert.equal(list.members.map((m) => m.name).sort(), ['g1', 'g2', 'g3']);
    const status = await ok(c.endpoints, ['endpoint', 'status', '-w', 'table']);
    assert.is((status.match(/\btrue\b/g) ?? []).length >= 1, true, status);
    for (const m of c.members) assert.match(status, c.endpointOf(m));
    // etcdctl 3.4 prints health lines on stderr.
    const health = await etcdctl(c.endpoints, ['endpoint', 'health']);
    assert.is(health.code, 0);
    assert.is((`${health.out}${health.err}`.match(/is healthy: successfully committed proposal/g) ?? []).length, 3, health.err);
  });

  test('compaction, reads below it, alarm list, defrag', async () => {
    await ok(one(0), ['put', 'cmp/k', 'a']);
    const rev = (JSON.parse(await ok(one(0), ['put', 'cmp/k', 'b', '-w', 'json'])) as { header: { revision: number } }).header.revision;
    assert.is(await ok(one(1), ['compaction', String(rev)]), `compacted revision ${rev}\n`);
    const below = await etcdctl(one(2), ['get', 'cmp/k', '--rev', String(rev - 1)]);
    assert.is.not(below.code, 0);
    assert.match(below.err, 'etcdserver: mvcc: required revision has been compacted');
    assert.is(await ok(one(2), ['get', 'cmp/k', '--rev', String(rev)]), 'cmp/k\nb\n');
    assert.is(await ok(one(0), ['alarm', 'list']), '');
    assert.match(await ok(one(0), ['defrag']), 'Finished defragmenting etcd member');
  });

  test('endpoint hashkv: every member has the same history hash at a revision; a different history a different hash', async () => {
    const rev = (JSON.parse(await ok(one(0), ['put', 'hash/k', 'v1', '-w', 'json'])) as { header: { revision: number } }).header.revision;
    // Every member applies the write before it answers a linearizable read.
    for (const m of c.members) await ok(c.endpointOf(m), ['get', 'hash/k']);
    type HashKv = { Endpoint: string; HashKV: { hash: number; compact_revision: number } }[];
    const at = async (r: number): Promise<HashKv> => JSON.parse(await ok(c.endpoints, ['endpoint', 'hashkv', '--rev', String(r), '-w', 'json'])) as HashKv;
    const before = await at(rev);
    assert.is(before.length, 3);
    const hashes = new Set(before.map((e) => e.HashKV.hash));
    assert.is(hashes.size, 1, JSON.stringify(before));
    assert.ok((before[0]?.HashKV.hash ?? 0) > 0);
    await ok(one(1), ['put', 'hash/k', 'v2']);
    // The past does not change; the present does.
    assert.equal((await at(rev)).map((e) => e.HashKV.hash), before.map((e) => e.HashKV.hash));
    const now = await ok(one(2), ['endpoint', 'hashkv']);
    assert.match(now, /, \d+\n$/);
    assert.is.not(Number(/, (\d+)\n$/.exec(now)?.[1]), before[0]?.HashKV.hash);
    const future = await etcdctl(one(0), ['endpoint', 'hashkv', '--rev', String(rev + 1000)]);
    assert.match(`${future.out}${future.err}`, 'etcdserver: mvcc: required revision is a future revision');
  });

  test('snapshot save (a bolt database with etcd\'s sha256 trailer) and move-leader', async () => {
    const file = join(tmpdir(), `qkv-grpc-snap-${process.pid}.db`);
    try {
      const saved = await etcdctl(one(0), ['snapshot', 'save', file]);
      assert.is(saved.code, 0, saved.err);
      assert.match(saved.out, `Snapshot saved at ${file}`);
      // An etcd bolt database: meta page 0 carries bbolt's magic after the 16-byte page header.
      assert.is(readFileSync(file).readUInt32LE(16), 0xed0cdaed);
    } finally {
      rmSync(file, { force: true });
    }
    const statuses = JSON.parse(await ok(c.endpoints, ['endpoint', 'status', '-w', 'json'])) as { Status: { header: { member_id: number }; leader: number } }[];
    const leader = statuses[0]?.Status.leader;
    // etcdctl -w json prints uint64s as JSON numbers (rounded to doubles here): compare the ids of
    // `member list` (hex) rounded the same way.
    const table = await ok(one(0), ['member', 'list']);
    const ids = table.trim().split('\n').map((l) => l.split(',')[0]?.trim() ?? '');
    const target = ids.find((id) => Number.parseInt(id, 16) !== leader);
    assert.ok(target, table);
    const moved = await etcdctl(c.endpoints, ['move-leader', target as string]);
    assert.is(moved.code, 0, moved.err);
    assert.match(moved.out, `Leadership transferred from`);
    assert.match(moved.out, `to ${target}`);
  });

  test('a learner added with the quorumkv CLI: etcdctl member list, promote, remove', async () => {
    const [pp, cp] = [await freePort(), await freePort()];
    const peerUrl = `ws://127.0.0.1:${pp}`;
    const add = await cli(c.members.map((m) => m.clientUrl).join(','), 'member', 'add', 'g4', peerUrl, '--learner');
    assert.is(add.code, 0, add.err);
    const g4 = startMember({ name: 'g4', peerPort: pp, clientPort: cp, dataDir: join(c.dir, 'g4'), initialCluster: `${c.initialCluster},g4=${peerUrl}`, state: 'existing' });
    try {
      const list = await ok(one(0), ['member', 'list']);
      // Its client URL is listed once g4 has published it.
      const id = new RegExp(`^([0-9a-f]+), started, g4, ws://[^,]+, (?:http://127.0.0.1:${cp})?, true$`, 'm').exec(list)?.[1];
      assert.ok(id, list);
      const promote = async (): Promise<true | undefined> => ((await etcdctl(one(1), ['member', 'promote', id as string])).code === 0 ? true : undefined);
      await waitFor('g4 promoted once caught up', promote, 30_000, 500);
      const row = new RegExp(`^${id}, started, g4, ${peerUrl}, http://127.0.0.1:${cp}, false$`, 'm');
      await waitFor('g4 listed as a voter with its client URL', async () => (row.test(await ok(one(2), ['member', 'list'])) ? true : undefined), 10_000, 200);
      assert.is(await ok(`127.0.0.1:${cp}`, ['get', 'app/a', '--print-value-only']), '1\n');
      const again = await etcdctl(one(0), ['member', 'promote', id as string]);
      assert.match(again.err, 'etcdserver: can only promote a learner member');
      // etcdctl prints the id with %16x (space-padded).
      assert.match(await ok(one(0), ['member', 'remove', id as string]), new RegExp(`Member\\s+${id} removed from cluster`));
      assert.is((await ok(one(0), ['member', 'list'])).trim().split('\n').length, 3);
      const ghost = await etcdctl(one(0), ['member', 'remove', 'ffff']);
      assert.match(ghost.err, 'etcdserver: member not found');
    } finally {
      await g4.stop();
    }
  });

  test('lock and elect (etcdctl runs clientv3 concurrency over KV, leases and watches)', async () => {
    const holder = etcdctlProcess(one(0), ['lock', 'gl']);
    try {
      await waitFor('the first lock', async () => (/^gl\/[0-9a-f]+\n/.test(holder.output()) ? true : undefined), 10_000);
      const waiting = etcdctl(one(1), ['lock', 'gl', 'echo', 'second-holder'], { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 700));
      let done = false;
      void waiting.then(() => (done = true));
      await new Promise((r) => setTimeout(r, 50));
      assert.is(done, false, 'the second lock waits while the first is held');
      await holder.stop();
      const second = await waiting;
      assert.is(second.code, 0, second.err);
      assert.is(second.out, 'second-holder\n');
    } finally {
      await holder.stop();
    }
    const candidate = etcdctlProcess(one(2), ['elect', 'ge', 'cand-a']);
    try {
      await waitFor('the campaign', async () => (/^ge\/[0-9a-f]+\ncand-a\n/.test(candidate.output()) ? true : undefined), 10_000);
      const observer = etcdctlProcess(one(0), ['elect', 'ge', '-l']);
      await waitFor('the observed leader', async () => (/cand-a\n/.test(observer.output()) ? true : undefined), 10_000);
      await observer.stop();
    } finally {
      await candidate.stop();
    }
  });

  test('watch --prefix --rev --prev-kv replays history and follows across a leader kill', async () => {
    await ok(one(0), ['put', 'w/a', '1']);
    const start = (JSON.parse(await ok(one(0), ['get', 'w/a', '-w', 'json'])) as { kvs: { mod_revision: number }[] }).kvs[0]?.mod_revision ?? 0;
    await ok(one(1), ['put', 'w/a', '2']);
    const watch = etcdctlProcess(c.endpoints, ['watch', 'w/', '--prefix', '--rev', String(start), '--prev-kv']);
    try {
      await waitFor('the replayed events', async () => (watch.output().includes('w/a\n1\nw/a\n2\n') ? true : undefined), 10_000);
      const statuses = await ok(c.endpoints, ['endpoint', 'status', '-w', 'json']);
      const parsed = JSON.parse(statuses) as { Endpoint: string; Status: { header: { member_id: number }; leader: number } }[];
      const leaderEndpoint = parsed.find((s) => s.Status.header.member_id === s.Status.leader)?.Endpoint;
      const leader = c.members.find((m) => c.endpointOf(m) === leaderEndpoint);
      assert.ok(leader, statuses);
      await leader?.stop();
      const survivors = c.members.filter((m) => m !== leader).map((m) => c.endpointOf(m)).join(',');
      await waitFor('a new leader', async () => ((await etcdctl(survivors, ['put', 'w/b', 'after'])).code === 0 ? true : undefined), 20_000, 300);
      await ok(survivors, ['del', 'w/a']);
      await waitFor('events after the leader kill', async () => (/PUT\nw\/b\nafter\n/.test(watch.output()) && /DELETE\nw\/a\n2\nw\/a\n/.test(watch.output()) ? true : undefined), 20_000);
      assert.ok(watch.output().startsWith('PUT\nw/a\n1\nPUT\nw/a\n1\nw/a\n2\n'), watch.output());
    } finally {
      await watch.stop();
    }
  });

  test.run();
}
