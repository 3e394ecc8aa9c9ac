// Proves that standalone members (`quorumkv member`, three real processes on loopback) serve
// the ops endpoints: `curl /metrics` parses as Prometheus text with peer traffic per peer (To /
// From labels), ping round trips, WAL syncs, and a leader change counted by the survivors after
// the leader is killed with SIGKILL (the leader exchanges bytes with every follower); /readyz, /livez and /version answer without a token.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { b64, freePort, post, removeDir, startMember, tempDir } from '../cli/helpers.ts';
import type { MemberProcess } from '../cli/helpers.ts';
import { waitForValue } from '../helpers/time.ts';
import { histogramCount, parsePrometheusText, valueOf } from './prom-parse.ts';
import type { Family } from './prom-parse.ts';

const run = promisify(execFile);
const dir = tempDir('ops');
const members: MemberProcess[] = [];

/** `curl -s` of a path; the status code comes back on the last line. */
async function curl(url: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '--max-time', '5', '-w', '\n%{http_code}', url]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

async function scrape(m: MemberProcess): Promise<Map<string, Family>> {
  const { status, body } = await curl(`${m.clientUrl}/metrics`);
  assert.is(status, 200, `${m.name} /metrics`);
  return parsePrometheusText(body);
}

function peerValue(f: Map<string, Family>, name: string, label: string, peer: string): number {
  return f.get(name)?.samples.find((s) => s.labels[label] === peer)?.value ?? 0;
}

test.before(async () => {
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ['m1', 'm2', 'm3'];
  const initialCluster = names.map((n, i) => `${n}=ws://127.0.0.1:${ports[i]}`).join(',');
  for (const [i, name] of names.entries()) {
    members.push(startMember({ name, peerPort: ports[i]!, clientPort: ports[i + 3]!, dataDir: join(dir, name), initialCluster }));
  }
  try {
    for (const m of members) await waitForValue(`${m.name} ready`, async () => ((await curl(`${m.clientUrl}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 90_000, 200);
  } catch (err) {
    console.error(String(err), members.map((m) => `--- ${m.name}\n${m.log()}`).join('\n'));
    throw err;
  }
});

test.after(async () => {
  await Promise.all(members.map((m) => m.stop()));
  removeDir(dir);
});

test('each member serves /metrics with peer traffic, round trips and WAL syncs after a put', async () => {
  const put = await post(members[0]!.clientUrl, '/v3/kv/put', { key: b64('/ops/k'), value: b64('v') });
  assert.is(put.status, 200);
  for (const m of members) {
    const peers = members.filter((p) => p !== m).map((p) => p.name);
    // Pings go every 2 s: wait for a round trip to each peer.
    const f = await waitForValue(`${m.name} to time a ping to each peer`, async () => {
      const fam = await scrape(m);
      return peers.every((p) => (fam.get('etcd_network_peer_round_trip_time_seconds')?.samples.find((s) => s.name.endsWith('_count') && s.labels['To'] === p)?.value ?? 0) > 0) ? fam : undefined;
    }, 15_000, 250);
    // The leader talks to every follower and hears from each; a follower at least with the leader.
    const talksTo = valueOf(f, 'etcd_server_is_leader') === 1 ? peers : peers.filter((p) => peerValue(f, 'etcd_network_peer_received_bytes_total', 'From', p) > 0);
    assert.ok(talksTo.length >= 1, `${m.name} heard from a peer`);
    for (const p of talksTo) {
      assert.ok(peerValue(f, 'etcd_network_peer_sent_bytes_total', 'To', p) > 0, `${m.name} sent to ${p}`);
      assert.ok(peerValue(f, 'etcd_network_peer_received_bytes_total', 'From', p) > 0, `${m.name} received from ${p}`);
    }
    for (const p of peers) {
      const rttSum = f.get('etcd_network_peer_round_trip_time_seconds')!.samples.find((s) => s.name.endsWith('_sum') && s.labels['To'] === p)!.value;
      assert.ok(rttSum > 0 && rttSum < 10, `${m.name} → ${p} round trips are plausible: ${rttSum} s`);
    }
    assert.ok(histogramCount(f, 'etcd_disk_wal_fsync_duration_seconds') >= 1, `${m.name} synced its WAL`);
    assert.is(valueOf(f, 'etcd_server_has_leader'), 1);
    assert.ok(valueOf(f, 'etcd_debugging_mvcc_keys_total') >= 1);
  }
});

test('the probes and /version answer without a token', async () => {
  const m = members[1]!;
  assert.equal(await curl(`${m.clientUrl}/livez`), { status: 200, body: 'ok\n' });
  assert.is((await curl(`${m.clientUrl}/readyz`)).status, 200);
  const version = await curl(`${m.clientUrl}/version`);
  assert.is(version.status, 200);
  assert.match(version.body, /^\{"etcdserver":"3\.4\.0","etcdcluster":"3\.4\.0","quorumkv":"\d+\.\d+\.\d+/);
});

test('after the leader is killed, the survivors count a leader change and know the new leader', async () => {
  const states = await Promise.all(members.map(async (m) => ({ m, f: await scrape(m) })));
  const leader = states.find((s) => valueOf(s.f, 'etcd_server_is_leader') === 1);
  assert.ok(leader !== undefined, 'one member leads');
  leader.m.child.kill('SIGKILL');
  for (const s of states.filter((x) => x !== leader)) {
    const before = valueOf(s.f, 'etcd_server_leader_changes_seen_total');
    await waitForValue(`${s.m.name} to see a new leader`, async () => {
      const f = await scrape(s.m);
      return valueOf(f, 'etcd_server_has_leader') === 1 && valueOf(f, 'etcd_server_leader_changes_seen_total') > before ? true : undefined;
    }, 10_000, 100);
  }
});

test.run();
