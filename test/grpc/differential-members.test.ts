// Differential: the same etcdctl membership session against a real etcd (Debian's etcd-server)
// and a standalone quorumkv member, both named d1, compared output for output once member and
// cluster ids, ports and the peer URL scheme (etcd's http://, our ws://) are masked: member list
// (simple, table and JSON), member add --learner with its ETCD_* lines, the unstarted learner's
// row, member update (where etcd 3.4 drops the learner flag from its list and quorumkv does not),
// promote of a learner that is not in sync, member remove, and etcd's errors for an unknown
// member and a peer URL already in use. Skipped when etcd or etcdctl is missing.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, removeDir, startMember, tempDir, waitFor } from '../cli/helpers.ts';
import type { MemberProcess } from '../cli/helpers.ts';
import { stopProcess } from '../helpers/process.ts';
import { etcdctl, hasEtcdctl } from './helpers.ts';

const hasEtcd = hasEtcdctl && spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0;
const dir = tempDir('grpc-diff-members');
let etcd: ChildProcess | undefined;
let member: MemberProcess | undefined;
/** Per server: its client endpoint and its own peer URL (etcd's http://, ours ws://). */
const servers: { ep: string; peerUrl: string }[] = [];

/**
 * What differs by nature: ids (hex or decimal), ports, the peer URL scheme, table column widths,
 * and the order of members (etcd lists them by ID, and the ids are random).
 */
function masked(text: string): string {
  const plain = text
    .replace(/"(ID|cluster_id|member_id|raft_term)":\d+/g, '"$1":0')
    .replace(/ *\b[0-9a-f]{8,16}\b/g, ' ID')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\bws:\/\//g, 'http://')
    .replace(/-+/g, '-')
    .replace(/ +/g, ' ');
  const sortedList = (list: string): string => list.split(',').sort().join(',');
  return plain
    .replace(/ETCD_INITIAL_CLUSTER="([^"]*)"/, (_m, list: string) => `ETCD_INITIAL_CLUSTER="${sortedList(list)}"`)
    .replace(/^\{.*\}$/m, (json: string) => {
      const parsed = JSON.parse(json) as { members?: unknown[] };
      if (parsed.members !== undefined) parsed.members = parsed.members.map((m) => JSON.stringify(m)).sort().map((m) => JSON.parse(m) as unknown);
      return JSON.stringify(parsed);
    })
    .replace(/((?:^ ID, .*\n)+)/m, (rows: string) => `${rows.split('\n').filter((r) => r !== '').sort().join('\n')}\n`)
    .replace(/((?:^\| ID \|.*\n)+)/m, (rows: string) => `${rows.split('\n').filter((r) => r !== '').sort().join('\n')}\n`);
}

/** Runs `args(server)` on both; returns [etcd, quorumkv] as `code\nstdout` + etcdctl's Error line. */
async function both(args: (s: { ep: string; peerUrl: string }) => string[]): Promise<[string, string]> {
  const run = async (s: { ep: string; peerUrl: string }): Promise<string> => {
    const r = await etcdctl(s.ep, args(s));
    const errLine = r.err.split('\n').filter((l) => l.startsWith('Error:')).join('\n');
    return masked(`${r.code}\n${r.out}${errLine}`);
  };
  return [await run(servers[0]!), await run(servers[1]!)];
}

async function same(args: (s: { ep: string; peerUrl: string }) => string[]): Promise<string> {
  const [a, b] = await both(args);
  assert.is(b, a, `etcdctl ${args(servers[0]!).join(' ')}`);
  return a;
}

/** The hex id of the member named `name` (or the unstarted one, for `''`) on server `s`. */
async function idOf(s: { ep: string }, name: string): Promise<string> {
  const out = (await etcdctl(s.ep, ['member', 'list'])).out;
  return new RegExp(`^([0-9a-f]+), \\w+, ${name},`, 'm').exec(out)?.[1] ?? 'missing';
}

if (!hasEtcd) {
  console.log('etcd or etcdctl not installed: skipping the membership differential test (apt-get install etcd-server etcd-client)');
} else {
  test.before(async () => {
    const [cp, pp, mp, mcp] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    etcd = spawn(
      'etcd',
      ['--name', 'd1', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${cp}`, '--advertise-client-urls', `http://127.0.0.1:${cp}`, '--listen-peer-urls', `http://127.0.0.1:${pp}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${pp}`, '--initial-cluster', `d1=http://127.0.0.1:${pp}`],
      { stdio: 'ignore' },
    );
    member = startMember({ name: 'd1', peerPort: mp as number, clientPort: mcp as number, dataDir: join(dir, 'q') });
    servers.push({ ep: `127.0.0.1:${cp}`, peerUrl: `http://127.0.0.1:${pp}` }, { ep: `127.0.0.1:${mcp}`, peerUrl: `http://127.0.0.1:${mp}` });
    for (const s of servers) await waitFor(`${s.ep} healthy`, async () => ((await etcdctl(s.ep, ['endpoint', 'health'])).code === 0 ? true : undefined), 30_000, 200);
  });
  test.after(async () => {
    await stopProcess(etcd);
    await member?.stop();
    removeDir(dir);
  });

  test('member list: simple, table and JSON', async () => {
    assert.match(await same(() => ['member', 'list']), /^0\n ID, started, d1, http:\/\/127\.0\.0\.1:PORT, http:\/\/127\.0\.0\.1:PORT, false\n$/);
    await same(() => ['member', 'list', '-w', 'table']);
    await same(() => ['member', 'list', '-w', 'json']);
  });

  test('member add --learner, its unstarted row, update, promote not in sync, remove; the errors', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const added = await same(() => ['member', 'add', 'x', '--learner', `--peer-urls=http://127.0.0.1:${p1}`]);
    assert.match(added, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
    assert.match(await same(() => ['member', 'list']), /, unstarted, , http:\/\/127\.0\.0\.1:PORT, , true\n/);
    await same(() => ['member', 'list', '-w', 'json']);
    const ids = await Promise.all(servers.map((s) => idOf(s, '')));
    const perServer = (args: (id: string) => string[]) => (s: { ep: string }) => args(ids[servers.indexOf(s as (typeof servers)[number])] ?? '');
    await same(perServer((id) => ['member', 'update', id, `--peer-urls=http://127.0.0.1:${p2}`]));
    // etcd 3.4's MemberUpdate drops the learner flag from its member record (Raft still has the
    // member as a learner, and promote still treats it as one); quorumkv keeps it.
    const [etcdList, ours] = await both(() => ['member', 'list']);
    const learnerRow = ', unstarted, , http://127.0.0.1:PORT, , ';
    assert.ok(etcdList.includes(`${learnerRow}false`), etcdList);
    assert.is(ours, etcdList.replace(`${learnerRow}false`, `${learnerRow}true`));
    assert.match(await same(perServer((id) => ['member', 'promote', id])), /can only promote a learner member which is in sync with leader/);
    await same(perServer((id) => ['member', 'remove', id]));
    await same(() => ['member', 'list']);
    assert.match(await same(() => ['member', 'remove', 'abcdef12']), /etcdserver: member not found/);
    assert.match(await same((s) => ['member', 'add', 'y', '--learner', `--peer-urls=${s.peerUrl}`]), /etcdserver: Peer URLs already exists/);
    assert.match(await same(() => ['member', 'update', 'abcdef12', `--peer-urls=http://127.0.0.1:${p1}`]), /etcdserver: member not found/);
  });

  test.run();
}
