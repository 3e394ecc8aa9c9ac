// Proves how a standalone member is configured, what it logs and how it exits, with real member
// processes on loopback: environment variables alone (etcd's ETCD_* names) configure a 3-member
// cluster, and the ETCD_* lines `member add` prints start the new member when fed back as its
// environment; etcd's own command line (flag names, http:// peer URLs) runs another; etcd-shaped YAML config files configure another 3-member cluster (a client token
// read from a file, never logged); SIGTERM exits 0, a follower removed from the cluster exits 6, a corrupted
// WAL exits 4 with a JSON line naming the error; every stdout/stderr line of every member is a
// JSON object naming its member; `--help` prints no secret taken from the environment.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/program.ts';
import { cli, cliProcess, freePort, removeDir, spawnMember, startMember, tempDir, waitFor } from './helpers.ts';
import type { MemberProcess } from './helpers.ts';

const dir = tempDir('member-config');
const started: MemberProcess[] = [];
const FAST = { QUORUMKV_HEARTBEAT_INTERVAL: '50', ETCD_ELECTION_TIMEOUT: '500' };

test.after(async () => {
  await Promise.all(started.map((m) => m.stop()));
  removeDir(dir);
});

function track(m: MemberProcess): MemberProcess {
  started.push(m);
  return m;
}

/** Every line the member wrote, parsed; fails on a line that is not a JSON object naming it. */
function records(m: MemberProcess): Record<string, unknown>[] {
  const lines = m.log().split('\n').filter((l) => l !== '');
  return lines.map((line) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      assert.unreachable(`${m.name} wrote a line that is not JSON: ${line}`);
    }
    const record = parsed as Record<string, unknown>;
    assert.is(record['member'], m.name, `line names its member: ${line}`);
    return record;
  });
}

async function healthy(endpoints: string, extra: readonly string[] = []): Promise<void> {
  await waitFor('a healthy cluster', async () => ((await cli(endpoints, ...extra, 'endpoint', 'health')).code === 0 ? true : undefined), 60_000, 200);
}

async function leaderName(endpoints: string): Promise<string> {
  return waitFor('a leader', async () => {
    const r = await cli(endpoints, '--json', 'endpoint', 'status');
    if (r.code !== 0) return undefined;
    const rows = JSON.parse(r.out) as { name: string; is_leader: string }[];
    return rows.find((row) => row.is_leader === 'true')?.name;
  }, 20_000, 100);
}

async function ports(n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => freePort()));
}

/** Free peer and client ports for `names`, and their `--initial-cluster` with `scheme` peer URLs. */
async function layout(names: readonly string[], scheme: 'ws' | 'http'): Promise<{ peerPorts: number[]; clientPorts: number[]; initialCluster: string }> {
  const all = await ports(names.length * 2);
  const peerPorts = all.slice(0, names.length);
  const clientPorts = all.slice(names.length);
  return { peerPorts, clientPorts, initialCluster: names.map((n, i) => `${n}=${scheme}://127.0.0.1:${peerPorts[i]}`).join(',') };
}

test('environment variables alone configure a 3-member cluster; member add output works as env; SIGTERM exits 0, removal exits 6', async () => {
  const [p1, p2, p3, c1, c2, c3, p4, c4] = await ports(8);
  const names = ['e1', 'e2', 'e3'];
  const peerPorts = [p1, p2, p3];
  const clientPorts = [c1, c2, c3];
  const initialCluster = names.map((n, i) => `${n}=ws://127.0.0.1:${peerPorts[i]}`).join(',');
  const members = names.map((name, i) => {
    const clientUrl = `http://127.0.0.1:${clientPorts[i]}`;
    const env = { ETCD_NAME: name, ETCD_DATA_DIR: join(dir, name), ETCD_INITIAL_CLUSTER: initialCluster, ETCD_INITIAL_CLUSTER_STATE: 'new', ETCD_LISTEN_CLIENT_URLS: clientUrl, ...FAST };
    // No flag at all: the peer URL is this member's entry of ETCD_INITIAL_CLUSTER.
    return track(spawnMember({ name, peerUrl: `ws://127.0.0.1:${peerPorts[i]}`, clientUrl, dataDir: join(dir, name) }, [], env));
  });
  const endpoints = members.map((m) => m.clientUrl).join(',');
  await healthy(endpoints);
  assert.is((await cli(endpoints, 'set', '/env/key', 'from-env')).code, 0);

  // `member add` prints ETCD_NAME, ETCD_INITIAL_CLUSTER and ETCD_INITIAL_CLUSTER_STATE lines.
  const add = await cli(endpoints, 'member', 'add', 'e4', `ws://127.0.0.1:${p4}`, '--learner');
  assert.is(add.code, 0, add.err);
  const printed = Object.fromEntries(add.out.split('\n').filter((l) => l.startsWith('ETCD_')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 2, -1)]));
  assert.equal(Object.keys(printed).sort(), ['ETCD_INITIAL_CLUSTER', 'ETCD_INITIAL_CLUSTER_STATE', 'ETCD_NAME']);
  const e4Url = `http://127.0.0.1:${c4}`;
  const e4 = track(spawnMember({ name: 'e4', peerUrl: `ws://127.0.0.1:${p4}`, clientUrl: e4Url, dataDir: join(dir, 'e4') }, [], { ...printed, ETCD_DATA_DIR: join(dir, 'e4'), ETCD_LISTEN_CLIENT_URLS: e4Url, ...FAST }));
  await waitFor('e4 serves the key', async () => ((await cli(e4Url, 'get', '/env/key')).out === 'from-env\n' ? true : undefined), 30_000, 200);
  await e4.stop();
  assert.is(await e4.exited, 0, 'SIGTERM exits 0');

  // A leader change: SIGTERM the leader (graceful handover), the others log the new leader.
  const first = await leaderName(endpoints);
  const oldLeader = members.find((m) => m.name === first) as MemberProcess;
  await oldLeader.stop();
  assert.is(await oldLeader.exited, 0, 'SIGTERM exits 0');
  const rest = members.filter((m) => m !== oldLeader);
  const second = await leaderName(rest.map((m) => m.clientUrl).join(','));
  assert.is.not(second, first);

  // Removal of a follower: the leader tells it as it applies the change; it exits 6.
  const removed = rest.find((m) => m.name !== second) as MemberProcess;
  const remove = await cli((rest.find((m) => m !== removed) as MemberProcess).clientUrl, 'member', 'remove', removed.name);
  assert.is(remove.code, 0, remove.err);
  const code = await Promise.race([removed.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 15_000))]);
  assert.is(code, 6, `the removed member exits 6:\n${removed.log()}`);
  assert.ok(records(removed).some((r) => r['level'] === 'error' && String(r['msg']).includes('removed from the cluster')));
  await Promise.all(rest.map((m) => m.stop()));
  for (const m of [...members, e4]) {
    const lines = records(m);
    assert.ok(lines.some((r) => r['msg'] === 'quorumkv: starting member'), `${m.name} logged its start`);
    assert.ok(lines.some((r) => r['msg'] === 'quorumkv: stopped'), `${m.name} logged its stop`);
  }
  assert.ok(records(rest.find((m) => m !== removed) as MemberProcess).some((r) => r['msg'] === 'raft: elected leader' && r['leader'] === second), 'the leader change is logged');
});

test('etcd-shaped YAML config files configure a 3-member cluster; the client token comes from a file and is never logged', async () => {
  const names = ['y1', 'y2', 'y3'];
  const { peerPorts, clientPorts, initialCluster } = await layout(names, 'ws');
  const tokenFile = join(dir, 'client.token');
  writeFileSync(tokenFile, 'yaml-secret-token\n');
  const members = names.map((name, i) => {
    const clientUrl = `http://127.0.0.1:${clientPorts[i]}`;
    const file = join(dir, `${name}.yml`);
    writeFileSync(
      file,
      [
        `name: ${name}`,
        `data-dir: ${join(dir, name)}`,
        `listen-peer-urls: ws://127.0.0.1:${peerPorts[i]}`,
        `listen-client-urls: ${clientUrl}`,
        `initial-cluster: ${initialCluster}`,
        'initial-cluster-state: new',
        'heartbeat-interval: 50',
        'election-timeout: 500',
        `client-token-file: ${tokenFile}`,
        'log-level: info',
        '',
      ].join('\n'),
    );
    // One member names its file in the environment, the others with the flag.
    const where = { name, peerUrl: `ws://127.0.0.1:${peerPorts[i]}`, clientUrl, dataDir: join(dir, name) };
    return track(i === 0 ? spawnMember(where, [], { QUORUMKV_CONFIG_FILE: file }) : spawnMember(where, ['--config-file', file]));
  });
  const endpoints = members.map((m) => m.clientUrl).join(',');
  await healthy(endpoints, ['--token-file', tokenFile]);
  assert.is((await cli(endpoints, '--token-file', tokenFile, 'set', '/yaml/key', 'from-yaml')).code, 0);
  assert.is((await cli(endpoints, 'get', '/yaml/key')).code, 3, 'the token is required');
  assert.is((await cli(members[2]?.clientUrl ?? '', '--token-file', tokenFile, 'get', '/yaml/key')).out, 'from-yaml\n');
  for (const m of members) {
    await m.stop();
    assert.is(await m.exited, 0, `${m.name} exits 0 on SIGTERM:\n${m.log()}`);
    records(m);
    assert.not.ok(m.log().includes('yaml-secret-token'), `${m.name} never logs the token`);
  }
});

test("etcd's own command line (http:// peer URLs, plural URL flags, cluster token) runs a 3-member cluster", async () => {
  const names = ['f1', 'f2', 'f3'];
  const { peerPorts, clientPorts, initialCluster } = await layout(names, 'http');
  const members = names.map((name, i) => {
    const peer = `http://127.0.0.1:${peerPorts[i]}`;
    const client = `http://127.0.0.1:${clientPorts[i]}`;
    // The argv the article test gives `etcd --enable-v2` (minus its logger flags), flag for flag.
    const args = ['--name', name, '--data-dir', join(dir, name), '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer];
    args.push('--listen-client-urls', client, '--advertise-client-urls', client, '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'etcd-cluster-1');
    args.push('--heartbeat-interval', '50', '--election-timeout', '500', '--max-request-bytes', '65536', '--max-txn-ops', '64');
    return track(spawnMember({ name, peerUrl: peer.replace('http:', 'ws:'), clientUrl: client, dataDir: join(dir, name) }, args));
  });
  const endpoints = members.map((m) => m.clientUrl).join(',');
  await healthy(endpoints);
  assert.is((await cli(endpoints, 'set', '/etcd-flags/key', 'v')).code, 0);
  const big = await cli(endpoints, 'set', '/etcd-flags/big', 'x'.repeat(70_000));
  assert.is(big.code, 4, '--max-request-bytes reached the member');
  const list = await cli(endpoints, 'member', 'list');
  assert.is(list.out.trim().split('\n').length, 3, list.out);
  assert.match(list.out, /name=f1 peerURLs=ws:\/\/127\.0\.0\.1:\d+/);
  const summary = records(members[0] as MemberProcess).find((r) => r['msg'] === 'quorumkv: starting member');
  assert.is(summary?.['listenPeerUrl'], `ws://127.0.0.1:${peerPorts[0]}`);
  await Promise.all(members.map((m) => m.stop()));
  for (const m of members) assert.is(await m.exited, 0);
});

test('a config file with an unknown key is refused, naming the key', async () => {
  const file = join(dir, 'bad.yml');
  writeFileSync(file, 'name: z1\nenable-pprof: true\nclient-transport-security:\n  auto-tls: true\n');
  const r = await cliProcess(['member', '--config-file', file]);
  assert.is(r.code, 1);
  assert.match(r.err, /unknown keys enable-pprof, client-transport-security\.auto-tls/);
});

test('--help never prints a secret taken from the environment', async () => {
  const secrets = { QUORUMKV_TOKEN: 'help-secret-1', QUORUMKV_CLIENT_TOKEN: 'help-secret-2', QUORUMKV_PEER_TOKEN: 'help-secret-3' };
  const saved = Object.fromEntries(Object.keys(secrets).map((k) => [k, process.env[k]]));
  Object.assign(process.env, secrets);
  try {
    for (const argv of [['--help'], ['member', '--help'], ['set', '--help']]) {
      let out = '';
      const code = await runCli(argv, { out: (s) => void (out += s), err: (s) => void (out += s) });
      assert.is(code, 0);
      assert.ok(out.length > 100, 'help was printed');
      assert.not.match(out, /help-secret/, `${argv.join(' ')} prints no secret`);
    }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  }
});

test('a member whose WAL is corrupted exits 4 with a JSON line naming the error', async () => {
  const [peerPort, clientPort] = await ports(2);
  const dataDir = join(dir, 'w1');
  const spec = { name: 'w1', peerPort: peerPort as number, clientPort: clientPort as number, dataDir };
  const first = track(startMember(spec));
  await healthy(first.clientUrl);
  await first.stop();
  assert.is(await first.exited, 0);
  // The segment header's checksum no longer matches: storage refuses to open.
  const { openSync, writeSync, closeSync, readdirSync } = await import('node:fs');
  const wal = readdirSync(dataDir).find((f) => f.endsWith('.wal')) as string;
  const fd = openSync(join(dataDir, wal), 'r+');
  writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, 0);
  closeSync(fd);
  const second = track(startMember(spec));
  assert.is(await second.exited, 4);
  const failure = records(second).find((r) => r['level'] === 'error');
  assert.ok(failure !== undefined, `an error line:\n${second.log()}`);
  assert.is((failure['err'] as Record<string, unknown> | undefined)?.['type'], 'CorruptionError');
  assert.match(String((failure['err'] as Record<string, unknown>)['message']), /corruption/);
});

test.run();
