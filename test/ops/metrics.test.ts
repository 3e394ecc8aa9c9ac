// Proves the metrics and probes of an in-process cluster (three members on a MemoryNetwork, each
// with a client endpoint on a free loopback port): /metrics parses as Prometheus text with
// etcd's names and plausible values after a put and after a leader change; /readyz turns 503
// while a member is partitioned away and 200 once healed (a write through it meanwhile is
// pending, then failed); /livez, /version; /metrics follows the
// endpoint token while the probes do not; and a file-storage member times its WAL syncs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clientUrlOf, createNode } from '../../src/create-node.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { quietLogger, startCluster } from '../node/helpers/cluster.ts';
import type { Cluster } from '../node/helpers/cluster.ts';
import { waitFor, waitForValue } from '../helpers/time.ts';
import { histogramCount, parsePrometheusText, valueOf } from './prom-parse.ts';
import type { Family } from './prom-parse.ts';

const ETCD_NAMES = [
  'etcd_server_has_leader',
  'etcd_server_leader_changes_seen_total',
  'etcd_server_proposals_committed_total',
  'etcd_server_proposals_applied_total',
  'etcd_server_proposals_pending',
  'etcd_server_proposals_failed_total',
  'etcd_server_slow_apply_total',
  'etcd_disk_wal_fsync_duration_seconds',
  'etcd_network_peer_round_trip_time_seconds',
  'etcd_network_peer_sent_bytes_total',
  'etcd_network_peer_received_bytes_total',
  'etcd_mvcc_db_total_size_in_bytes',
  'etcd_debugging_mvcc_keys_total',
];
const OWN_NAMES = ['quorumkv_event_loop_delay_max_seconds', 'quorumkv_snapshot_duration_seconds', 'quorumkv_watches', 'quorumkv_watch_buffered_events', 'quorumkv_leases', 'quorumkv_learner_lag_entries'];

let cluster: Cluster;

function urlOf(node: QuorumNode): string {
  const url = clientUrlOf(node);
  if (url === undefined) throw new Error(`${node.id} has no client endpoint`);
  return url;
}

async function scrape(node: QuorumNode): Promise<Map<string, Family>> {
  const res = await fetch(`${urlOf(node)}/metrics`);
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await res.text());
}

test.before(async () => {
  cluster = await startCluster(3, { client: { port: 0 } });
  await cluster.waitLeader();
  await Promise.all([...cluster.nodes.values()].map((n) => n.ready()));
});

test.after(async () => {
  await cluster.closeAll();
});

test('/metrics has every etcd, quorumkv and process family, with HELP and TYPE', async () => {
  const families = await scrape(cluster.nodes.get('n1')!);
  for (const name of [...ETCD_NAMES, ...OWN_NAMES]) {
    const f = families.get(name);
    assert.ok(f !== undefined, `${name} is served`);
    assert.ok(f.help.length > 0, `${name} has help`);
  }
  assert.is(families.get('etcd_server_has_leader')?.type, 'gauge');
  // The process's own, under the client libraries' standard names.
  assert.ok(valueOf(families, 'process_resident_memory_bytes') > 1024 * 1024);
  assert.ok(valueOf(families, 'process_cpu_seconds_total') > 0);
  assert.ok(Math.abs(valueOf(families, 'process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 5);
  assert.is(families.get('etcd_server_leader_changes_seen_total')?.type, 'counter');
  assert.is(families.get('etcd_disk_wal_fsync_duration_seconds')?.type, 'histogram');
  // etcd's bucket boundaries: 1 ms doubling 14 times, then +Inf.
  const les = families.get('etcd_disk_wal_fsync_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels['le']);
  assert.equal(les, ['0.001', '0.002', '0.004', '0.008', '0.016', '0.032', '0.064', '0.128', '0.256', '0.512', '1.024', '2.048', '4.096', '8.192', '+Inf']);
});

test('after a put: applied and committed move, keys and db size count it, a leader is known everywhere', async () => {
  const leader = cluster.leader()!;
  const before = await scrape(leader);
  const { revision } = await leader.put('/metrics/a', 'x'.repeat(100));
  const after = await scrape(leader);
  assert.ok(revision > 0);
  assert.ok(valueOf(after, 'etcd_server_proposals_applied_total') >= valueOf(before, 'etcd_server_proposals_applied_total') + 1, 'applied moved');
  assert.ok(valueOf(after, 'etcd_server_proposals_committed_total') >= valueOf(after, 'etcd_server_proposals_applied_total'), 'committed >= applied');
  assert.ok(valueOf(after, 'etcd_debugging_mvcc_keys_total') >= 1, 'the key is counted');
  assert.ok(valueOf(after, 'etcd_mvcc_db_total_size_in_bytes') > valueOf(before, 'etcd_mvcc_db_total_size_in_bytes'), 'db size grew');
  assert.is(valueOf(after, 'etcd_server_proposals_pending'), 0);
  assert.is(valueOf(after, 'etcd_server_proposals_failed_total'), 0);
  assert.is(valueOf(after, 'etcd_server_is_leader'), 1);
  for (const node of cluster.nodes.values()) {
    const f = await scrape(node);
    assert.is(valueOf(f, 'etcd_server_has_leader'), 1, `${node.id} knows a leader`);
    assert.ok(valueOf(f, 'etcd_server_leader_changes_seen_total') >= 1, `${node.id} saw the first election`);
  }
});

test('a watch and a lease show up in the quorumkv gauges', async () => {
  const node = cluster.nodes.get('n2')!;
  const watch = node.watch({ prefix: '/metrics/w/' });
  const lease = await node.grantLease(10_000);
  await cluster.leader()!.put('/metrics/w/1', 1);
  await waitFor(() => node.metrics().watchBufferedEvents >= 1, 'the event to be buffered', 3_000);
  const f = await scrape(node);
  assert.is(valueOf(f, 'quorumkv_watches'), 1);
  assert.ok(valueOf(f, 'quorumkv_watch_buffered_events') >= 1);
  assert.ok(valueOf(f, 'quorumkv_leases') >= 1);
  watch.close();
  await lease.revoke();
  assert.is(node.metrics().watches, 0);
});

test('the leader reports a learner that has not caught up, until it is removed', async () => {
  const leader = cluster.leader()!;
  await leader.cluster.add('n9', 'ws://127.0.0.1:17099', { learner: true }); // never started: it replicates nothing
  const f = await scrape(leader);
  const lag = f.get('quorumkv_learner_lag_entries')!.samples.find((s) => s.labels['member'] === 'n9');
  assert.ok(lag !== undefined && lag.value > 0 && lag.value <= valueOf(f, 'etcd_server_proposals_committed_total'), `lag ${lag?.value}`);
  assert.equal(Object.keys(cluster.nodes.get([...cluster.nodes.keys()].find((id) => id !== leader.id)!)!.metrics().learnerLag), []);
  await leader.cluster.remove('n9');
  assert.equal(leader.metrics().learnerLag, {});
});

test('after a leader change: the count rises on the survivors and a new leader is known', async () => {
  const old = cluster.leader()!;
  const survivors = [...cluster.nodes.values()].filter((n) => n !== old);
  const seen = new Map<string, number>();
  for (const n of survivors) seen.set(n.id, valueOf(await scrape(n), 'etcd_server_leader_changes_seen_total'));
  const target = survivors[0]!;
  await old.cluster.transferLeadership(target.id);
  await waitFor(() => target.status().role === 'leader', 'the transfer', 5_000);
  for (const n of survivors) {
    const f = await waitForValue(`${n.id} to count the change`, async () => {
      const fam = await scrape(n);
      return valueOf(fam, 'etcd_server_leader_changes_seen_total') > seen.get(n.id)! ? fam : undefined;
    }, 5_000, 20);
    assert.is(valueOf(f, 'etcd_server_has_leader'), 1);
  }
  assert.is(valueOf(await scrape(target), 'etcd_server_is_leader'), 1);
});

test('/readyz is 503 with a reason while a member is partitioned away, 200 after the heal; /livez stays 200', async () => {
  const leader = cluster.leader()!;
  const follower = [...cluster.nodes.values()].find((n) => n !== leader)!;
  const others = [...cluster.nodes.keys()].filter((id) => id !== follower.id);
  assert.is((await fetch(`${urlOf(follower)}/readyz`)).status, 200);
  cluster.net.partition([follower.id], others);
  try {
    const body = await waitForValue('/readyz to fail', async () => {
      const res = await fetch(`${urlOf(follower)}/readyz`);
      return res.status === 503 ? await res.text() : undefined;
    }, 5_000, 20);
    assert.match(body, /^not ready: no leader known/);
    assert.is((await fetch(`${urlOf(follower)}/livez`)).status, 200);
    assert.is(valueOf(await scrape(follower), 'etcd_server_has_leader'), 0);
    // A write through the cut-off member is pending until its deadline, then counts as failed.
    const failedBefore = valueOf(await scrape(follower), 'etcd_server_proposals_failed_total');
    const write = follower.put('/metrics/cut-off', 1, { timeoutMs: 300 }).then(() => 'applied', (err: { code?: string }) => err.code);
    assert.is(valueOf(await scrape(follower), 'etcd_server_proposals_pending'), 1);
    assert.is(await write, 'NO_LEADER');
    const after = await scrape(follower);
    assert.is(valueOf(after, 'etcd_server_proposals_failed_total'), failedBefore + 1);
    assert.is(valueOf(after, 'etcd_server_proposals_pending'), 0);
  } finally {
    cluster.net.heal();
  }
  await waitForValue('/readyz to recover', async () => ((await fetch(`${urlOf(follower)}/readyz`)).status === 200 ? true : undefined), 5_000, 20);
});

test('/version is etcd 3.4 shaped and carries the package version; other methods are 405', async () => {
  const node = cluster.nodes.get('n1')!;
  const res = await fetch(`${urlOf(node)}/version`);
  assert.is(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  assert.is(body['etcdserver'], '3.4.0');
  assert.is(body['etcdcluster'], '3.4.0');
  const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
  assert.is(body['quorumkv'], pkg.version);
  const post = await fetch(`${urlOf(node)}/metrics`, { method: 'POST' });
  assert.is(post.status, 405);
  assert.is(post.headers.get('allow'), 'GET, HEAD');
});

test('with a token, /metrics needs it and the probes do not', async () => {
  const node = await createNode({ id: 'solo', storage: (await import('../../src/storage/memory-storage.ts')).memoryStorage(), logger: quietLogger, client: { port: 0, token: 's3cret' } });
  try {
    await node.ready();
    const url = urlOf(node);
    assert.is((await fetch(`${url}/metrics`)).status, 401);
    const ok = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer s3cret' } });
    assert.is(ok.status, 200);
    parsePrometheusText(await ok.text());
    for (const probe of ['/livez', '/readyz', '/version']) assert.is((await fetch(`${url}${probe}`)).status, 200, probe);
  } finally {
    await node.close();
  }
});

test('a file-storage member times its WAL syncs and counts snapshots', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-ops-'));
  const node = await createNode({ id: 'disk', dataDir: dir, logger: quietLogger, snapshotEvery: 5, client: { port: 0 } });
  try {
    await node.ready();
    for (let i = 0; i < 12; i++) await node.put(`/k${i}`, i);
    await waitFor(() => node.metrics().snapshotDuration.count >= 1, 'a periodic snapshot', 5_000);
    const f = await scrape(node);
    assert.ok(histogramCount(f, 'etcd_disk_wal_fsync_duration_seconds') >= 12, 'one sync per put at least');
    const sum = f.get('etcd_disk_wal_fsync_duration_seconds')!.samples.find((s) => s.name.endsWith('_sum'))!.value;
    assert.ok(sum > 0 && sum < 60, `plausible fsync seconds: ${sum}`);
    assert.ok(histogramCount(f, 'quorumkv_snapshot_duration_seconds') >= 1);
    assert.ok(valueOf(f, 'etcd_mvcc_db_total_size_in_bytes') > 0);
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
