// `etcdctl snapshot save` from a 3-process quorumkv cluster yields an etcd bolt database: after
// puts, deletes, multi-key txns, leases and a compaction, `etcdctl snapshot status` prints the
// cluster's revision and the database's entry count, the file passes the strict test reader, and
// `etcdctl snapshot restore` + Debian's real `etcd` on the restored data dir serve the same keys,
// values, create/mod revisions, versions and leases as the cluster (`get --prefix -w json`, now
// and at an older revision), with the same compaction point; and `quorumkv snapshot restore` of
// that etcd file, or `quorumkv member --restore-from` it, makes a quorumkv member serving the same. Skipped when etcd is not installed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, freePort, startMember, waitFor } from '../cli/helpers.ts';
import type { MemberProcess } from '../cli/helpers.ts';
import { readBolt } from '../helpers/bolt-reader.ts';
import { etcdPeerUrl, hasEtcd, startEtcd } from './etcd-process.ts';
import type { EtcdProcess } from './etcd-process.ts';
import { etcdctl, startProcessCluster } from './helpers.ts';
import type { ProcessCluster } from './helpers.ts';

let c: ProcessCluster;
let etcd: EtcdProcess | undefined;
const restoredMembers: MemberProcess[] = [];
/** What the first test saved and read from the cluster, for the second. */
let saved: { file: string; now: GetReply; older: number } | undefined;

const ok = async (endpoints: string, args: string[], stdin?: string): Promise<string> => {
  const r = await etcdctl(endpoints, args, stdin === undefined ? { timeoutMs: 60_000 } : { stdin });
  assert.is(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.err}`);
  return r.out;
};

interface GetReply {
  header: { revision: number };
  kvs?: { key: string; create_revision: number; mod_revision: number; version: number; value?: string; lease?: number }[];
}

async function getAll(ep: string, extra: string[] = []): Promise<GetReply> {
  return JSON.parse(await ok(ep, ['get', '', '--prefix', '-w', 'json', ...extra])) as GetReply;
}

if (!hasEtcd) {
  console.log('etcd/etcdctl not installed: skipping the snapshot tests (apt-get install etcd-server etcd-client)');
} else {
  test.before(async () => {
    c = await startProcessCluster('grpc-snapshot');
  });
  test.after(async () => {
    await etcd?.stop();
    await Promise.all(restoredMembers.map((m) => m.stop()));
    await c?.stop();
  });

  test('snapshot save → status → restore into a real etcd serves the same keys and revisions', async () => {
    const ep = c.endpoints;
    const lease = /lease ([0-9a-f]+) granted/.exec(await ok(ep, ['lease', 'grant', '600']))?.[1];
    assert.ok(lease);
    for (let i = 0; i < 40; i++) await ok(ep, ['put', `k/${i % 12}`, `value-${i}`]);
    await ok(ep, ['put', 'leased/a', 'x', '--lease', lease as string]);
    await ok(ep, ['del', 'k/3']);
    await ok(ep, ['del', 'k/1', '--prefix']); // k/1, k/10, k/11
    const compactAt = (await getAll(ep)).header.revision;
    await ok(ep, ['compaction', String(compactAt)]);
    // A multi-key txn after the compaction: put, put, delete in one revision (sub-revisions 0, 1, 2).
    await ok(ep, ['txn'], 'create("t/1") = "0"\n\nput t/2 two\nput t/1 one\ndel k/5\n\n\n');
    const older = (await getAll(ep)).header.revision;
    await ok(ep, ['put', 'k/0', 'last']);
    const now = await getAll(c.endpointOf(c.members[0] as (typeof c.members)[number]));

    const file = join(c.dir, 'snap.db');
    const save = await etcdctl(c.endpointOf(c.members[1] as (typeof c.members)[number]), ['snapshot', 'save', file]);
    assert.is(save.code, 0, save.err);
    const bytes = readFileSync(file);
    const db = readBolt(bytes.subarray(0, bytes.length - 32));
    const status = JSON.parse(await ok(ep, ['snapshot', 'status', file, '-w', 'json'])) as { revision: number; totalKey: number; totalSize: number; hash: number };
    assert.is(status.revision, now.header.revision);
    let entries = 0;
    for (const [, bucket] of db.buckets) entries += bucket.entries.length;
    assert.is(status.totalKey, entries);
    assert.is(status.totalSize, bytes.length - 32);
    assert.ok(status.hash > 0);

    const pp = await freePort();
    const peer = etcdPeerUrl(pp);
    const dataDir = join(c.dir, 'etcd-restored');
    await ok(ep, ['snapshot', 'restore', file, '--data-dir', dataDir, '--name', 'r', '--initial-cluster', `r=${peer}`, '--initial-advertise-peer-urls', peer]);
    etcd = await startEtcd('r', dataDir, pp);
    const etcdEp = etcd.endpoint;

    const restored = await getAll(etcdEp);
    assert.is(restored.header.revision, now.header.revision);
    assert.equal(restored.kvs, now.kvs);
    assert.ok((now.kvs ?? []).some((kv) => kv.lease !== undefined && kv.lease > 0), 'a leased key is compared');
    assert.equal((await getAll(etcdEp, ['--rev', String(older)])).kvs, (await getAll(ep, ['--rev', String(older)])).kvs);
    // The compaction point came along: below it etcd refuses as quorumkv does.
    for (const target of [etcdEp, ep]) {
      const r = await etcdctl(target, ['get', 'k/0', '--rev', String(compactAt - 1)]);
      assert.match(`${r.out}${r.err}`, 'required revision has been compacted');
    }
    assert.match(await ok(etcdEp, ['lease', 'list']), lease as string);
    saved = { file, now, older };
  });

  test('quorumkv snapshot restore of the etcd file: a member serving the same keys and revisions', async () => {
    assert.ok(saved, 'the first test saved a snapshot');
    const [peerPort, clientPort] = [await freePort(), await freePort()];
    const dataDir = join(c.dir, 'qkv-restored');
    const r = await cli(c.members.map((m) => m.clientUrl).join(','), 'snapshot', 'restore', saved.file, '--data-dir', dataDir, '--name', 'r1', '--initial-cluster', `r1=ws://127.0.0.1:${peerPort}`);
    assert.is(r.code, 0, r.err);
    const restored = startMember({ name: 'r1', peerPort, clientPort, dataDir });
    restoredMembers.push(restored);
    const qkvEp = c.endpointOf(restored);
    await waitFor('the restored member', async () => ((await etcdctl(qkvEp, ['endpoint', 'health'])).code === 0 ? true : undefined), 60_000, 300);
    const got = await getAll(qkvEp);
    assert.is(got.header.revision, saved.now.header.revision);
    assert.equal(got.kvs, saved.now.kvs);
    assert.equal((await getAll(qkvEp, ['--rev', String(saved.older)])).kvs, (await getAll(c.endpoints, ['--rev', String(saved.older)])).kvs);
  });

  test('quorumkv member --restore-from the etcd file: a member serving the same keys', async () => {
    assert.ok(saved, 'the first test saved a snapshot');
    const [peerPort, clientPort] = [await freePort(), await freePort()];
    const m = startMember({ name: 'r2', peerPort, clientPort, dataDir: join(c.dir, 'qkv-member-restored'), extra: ['--restore-from', saved.file] });
    restoredMembers.push(m);
    const qkvEp = c.endpointOf(m);
    await waitFor('the member restored from an etcd file', async () => ((await etcdctl(qkvEp, ['endpoint', 'health'])).code === 0 ? true : undefined), 60_000, 300);
    const got = await getAll(qkvEp);
    assert.is(got.header.revision, saved.now.header.revision);
    assert.equal(got.kvs, saved.now.kvs);
  });
}

test.run();
