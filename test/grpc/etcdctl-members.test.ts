// Debian's real etcdctl (v3 API) managing the membership of standalone `quorumkv member`
// processes: `member list -w table` shows every member's name and client URL on every member,
// `endpoint status` reaches all of them through those URLs (as `--cluster` reads them), `member add` prints the
// ETCD_* lines that start a 4th process (it finds its generated id by its peer URL, joins and is
// listed started), `member add --learner` + `member promote`, `member update` (the member
// restarted on its new peer URL is reached there) and `member remove` (the removed process
// exits), with etcd's output lines and error messages (a voter too many for the started members
// included). Skipped when etcdctl is not installed.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, freePort, spawnMember, waitFor } from '../cli/helpers.ts';
import type { MemberProcess } from '../cli/helpers.ts';
import { etcdctl, hasEtcdctl, startProcessCluster } from './helpers.ts';
import type { ProcessCluster } from './helpers.ts';

let c: ProcessCluster;
const extra: MemberProcess[] = [];
const ok = async (endpoints: string, args: string[]): Promise<string> => {
  const r = await etcdctl(endpoints, args);
  assert.is(r.code, 0, `etcdctl ${args.join(' ')} failed: ${r.err}`);
  return r.out;
};
const one = (i: number): string => c.endpointOf(c.members[i] as MemberProcess);

interface ListedMember {
  readonly ID: string;
  readonly name?: string;
  readonly peerURLs?: string[];
  readonly clientURLs?: string[];
  readonly isLearner?: boolean;
}

/** `member list -w json`, with each ID as etcdctl's hex (the JSON holds it as a decimal uint64). */
async function members(endpoint: string): Promise<(ListedMember & { readonly hex: string })[]> {
  // The uint64 IDs do not fit a double: read them as strings before parsing.
  const out = (await ok(endpoint, ['member', 'list', '-w', 'json'])).replace(/"ID":(\d+)/g, '"ID":"$1"');
  const list = (JSON.parse(out) as { members: ListedMember[] }).members;
  return list.map((m) => ({ ...m, hex: BigInt(m.ID).toString(16) }));
}

/** The `KEY="value"` lines `etcdctl member add` prints. */
function etcdEnv(out: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/^(ETCD_[A-Z_]+)="(.*)"$/gm)) env[m[1] as string] = m[2] as string;
  return env;
}

/** A member started exactly from etcdctl's ETCD_* lines, plus its data dir and client URL. */
async function startFromEnv(env: Record<string, string>, dataDir: string): Promise<MemberProcess> {
  const clientPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = (env['ETCD_INITIAL_ADVERTISE_PEER_URLS'] ?? '').replace(/^http:/, 'ws:');
  const m = spawnMember({ name: env['ETCD_NAME'] ?? '', peerUrl, clientUrl, dataDir }, [], {
    ...env,
    ETCD_DATA_DIR: dataDir,
    ETCD_LISTEN_CLIENT_URLS: clientUrl,
    ETCD_HEARTBEAT_INTERVAL: '50',
    ETCD_ELECTION_TIMEOUT: '500',
  });
  extra.push(m);
  return m;
}

async function waitStarted(name: string, clientUrl: string, process: MemberProcess): Promise<void> {
  try {
    await waitFor(
      `${name} listed started with its client URL on every member`,
      async () => {
        for (let i = 0; i < 3; i++) {
          const found = (await members(one(i))).find((m) => m.name === name);
          if (found === undefined || !(found.clientURLs ?? []).includes(clientUrl)) return undefined;
        }
        return true;
      },
      60_000,
      300,
    );
  } catch (err) {
    console.error(process.log());
    throw err;
  }
}

if (!hasEtcdctl) {
  console.log('etcdctl not installed: skipping the etcdctl member tests (apt-get install etcd-client)');
} else {
  test.before(async () => {
    c = await startProcessCluster('grpc-members');
  });
  test.after(async () => {
    await Promise.all(extra.map((m) => m.stop()));
    await c?.stop();
  });

  test('member list -w table on every member shows every name and client URL; endpoint status --cluster reaches all', async () => {
    await waitFor(
      'every client URL published',
      async () => {
        for (let i = 0; i < 3; i++) {
          const table = await ok(one(i), ['member', 'list', '-w', 'table']);
          if (!c.members.every((m) => table.includes(m.clientUrl))) return undefined;
        }
        return true;
      },
      30_000,
      200,
    );
    for (let i = 0; i < 3; i++) {
      const table = await ok(one(i), ['member', 'list', '-w', 'table']);
      assert.match(table, /\| +ID +\| STATUS +\| +NAME +\| +PEER ADDRS +\| +CLIENT ADDRS +\| IS LEARNER \|/);
      for (const m of c.members) {
        const row = table.split('\n').find((line) => line.includes(` ${m.name} |`));
        assert.ok(row !== undefined, table);
        assert.match(row as string, new RegExp(`\\| +started +\\| +${m.name} +\\| +${m.peerUrl} +\\| +${m.clientUrl} +\\| +false +\\|`));
      }
    }
    // `--cluster` reads every client URL from MemberList and asks each member there, with the
    // URL itself as the HTTP/2 :authority (etcdctl 3.4), which the front rewrites for nghttp2
    // (src/grpc/authority-rewrite.ts).
    const listed = await members(one(0));
    const urls = listed.flatMap((m) => m.clientURLs ?? []);
    assert.equal(urls.map((u) => u.replace(/^http:\/\//, '')).sort(), c.members.map((m) => c.endpointOf(m)).sort());
    const status = await ok(one(1), ['endpoint', 'status', '--cluster', '-w', 'table']);
    for (const u of urls) assert.match(status, u);
    assert.is((status.match(/\| +true +\|/g) ?? []).length, 1, `one leader:\n${status}`);
    const health = await etcdctl(`http://${one(2)}`, ['endpoint', 'health', '--cluster']);
    assert.is((`${health.out}${health.err}`.match(/is healthy: successfully committed proposal/g) ?? []).length, 3, health.err);
  });

  test('member add prints the ETCD_* lines; a member started from them finds its id, joins and is listed started', async () => {
    const peerPort = await freePort();
    const out = await ok(one(0), ['member', 'add', 'm4', `--peer-urls=http://127.0.0.1:${peerPort}`]);
    const id = /^Member +([0-9a-f]{1,16}) added to cluster +([0-9a-f]{1,16})$/m.exec(out)?.[1];
    assert.ok(id, out);
    const env = etcdEnv(out);
    assert.is(env['ETCD_NAME'], 'm4');
    assert.is(env['ETCD_INITIAL_CLUSTER_STATE'], 'existing');
    assert.is(env['ETCD_INITIAL_ADVERTISE_PEER_URLS'], `http://127.0.0.1:${peerPort}`);
    for (const m of c.members) assert.match(env['ETCD_INITIAL_CLUSTER'] ?? '', `${m.name}=${m.peerUrl}`);
    assert.match(env['ETCD_INITIAL_CLUSTER'] ?? '', `m4=ws://127.0.0.1:${peerPort}`);
    // Listed unstarted (no name) until it starts.
    const table = await ok(one(1), ['member', 'list', '-w', 'table']);
    assert.match(table, new RegExp(`\\| +${id} +\\| unstarted +\\| +\\| +ws://127.0.0.1:${peerPort} +\\| +\\| +false +\\|`));
    // The same peer URL twice is etcd's error.
    const twice = await etcdctl(one(2), ['member', 'add', 'again', `--peer-urls=http://127.0.0.1:${peerPort}`]);
    assert.is.not(twice.code, 0);
    assert.match(twice.err, 'etcdserver: Peer URLs already exists');
    // etcd's strict reconfiguration check: with m4 and x1 not started, a 6th voter would need 4
    // started members of the 3 there are.
    const x1 = /^Member +([0-9a-f]{1,16}) added/m.exec(await ok(one(0), ['member', 'add', 'x1', `--peer-urls=http://127.0.0.1:${await freePort()}`]))?.[1] as string;
    const x2 = await etcdctl(one(0), ['member', 'add', 'x2', `--peer-urls=http://127.0.0.1:${await freePort()}`]);
    assert.is.not(x2.code, 0);
    assert.match(x2.err, 'etcdserver: re-configuration failed due to not enough started members');
    assert.match(await ok(one(0), ['member', 'remove', x1]), new RegExp(`Member +${x1} removed from cluster`));
    const m4 = await startFromEnv(env, join(c.dir, 'm4'));
    await waitStarted('m4', m4.clientUrl, m4);
    const listed = (await members(one(2))).find((m) => m.name === 'm4');
    assert.is(listed?.hex, id);
    // The JSON gateway's status names the member as it published itself (its id is generated).
    const status = await cli(m4.clientUrl, 'endpoint', 'status');
    assert.match(status.out, new RegExp(`^${m4.clientUrl}, ${id}, [^,]+, m4, false, false, `), status.out);
    await ok(m4.clientUrl.replace('http://', ''), ['put', 'from/m4', 'yes']);
    assert.is(await ok(one(0), ['get', 'from/m4', '--print-value-only']), 'yes\n');
  });

  test('member add --learner, then member promote; promote of a voter is etcd\'s error', async () => {
    const peerPort = await freePort();
    const out = await ok(one(1), ['member', 'add', 'm5', '--learner', `--peer-urls=http://127.0.0.1:${peerPort}`]);
    const id = /^Member +([0-9a-f]{1,16}) added to cluster/m.exec(out)?.[1] as string;
    assert.ok(id, out);
    const m5 = await startFromEnv(etcdEnv(out), join(c.dir, 'm5'));
    await waitStarted('m5', m5.clientUrl, m5);
    assert.is((await members(one(0))).find((m) => m.hex === id)?.isLearner, true);
    await waitFor(
      'the learner promoted',
      async () => {
        const r = await etcdctl(one(0), ['member', 'promote', id]);
        if (r.code === 0) return r.out;
        if (!/in sync with leader/.test(r.err)) throw new Error(r.err);
        return undefined;
      },
      30_000,
      300,
    ).then((promoted) => assert.match(promoted, new RegExp(`^Member +${id} promoted in cluster +[0-9a-f]+`)));
    assert.is((await members(one(2))).find((m) => m.hex === id)?.isLearner ?? false, false);
    const again = await etcdctl(one(0), ['member', 'promote', id]);
    assert.is.not(again.code, 0);
    assert.match(again.err, 'etcdserver: can only promote a learner member');
  });

  test('member update moves a peer URL; the member restarted there is reached; member remove stops it', async () => {
    const m5 = extra[1] as MemberProcess;
    const id = (await members(one(0))).find((m) => m.name === 'm5')?.hex as string;
    const newPort = await freePort();
    assert.match(await ok(one(2), ['member', 'update', id, `--peer-urls=http://127.0.0.1:${newPort}`]), new RegExp(`^Member +${id} updated in cluster +[0-9a-f]+`));
    for (let i = 0; i < 3; i++) assert.equal((await members(one(i))).find((m) => m.hex === id)?.peerURLs, [`ws://127.0.0.1:${newPort}`]);
    const missing = await etcdctl(one(0), ['member', 'update', 'abcdef', `--peer-urls=http://127.0.0.1:${newPort + 1}`]);
    assert.match(missing.err, 'etcdserver: member not found');
    // Restart m5 on its new peer URL (same data dir: it remembers its id).
    await m5.stop();
    const moved = spawnMember({ name: 'm5', peerUrl: `ws://127.0.0.1:${newPort}`, clientUrl: m5.clientUrl, dataDir: m5.dataDir }, [], {
      ETCD_NAME: 'm5',
      ETCD_DATA_DIR: m5.dataDir,
      ETCD_INITIAL_CLUSTER: `${c.initialCluster},m5=http://127.0.0.1:${newPort}`,
      ETCD_INITIAL_ADVERTISE_PEER_URLS: `http://127.0.0.1:${newPort}`,
      ETCD_INITIAL_CLUSTER_STATE: 'existing',
      ETCD_LISTEN_CLIENT_URLS: m5.clientUrl,
      ETCD_HEARTBEAT_INTERVAL: '50',
      ETCD_ELECTION_TIMEOUT: '500',
    });
    extra.push(moved);
    await ok(one(0), ['put', 'after/update', 'v']);
    try {
      await waitFor('m5 serves the write on its new peer URL', async () => ((await etcdctl(moved.clientUrl.replace('http://', ''), ['get', 'after/update', '--print-value-only'])).out === 'v\n' ? true : undefined), 30_000, 300);
    } catch (err) {
      console.error(moved.log());
      throw err;
    }
    // Remove m4: its process exits, the list has four members.
    const m4 = extra[0] as MemberProcess;
    const m4id = (await members(one(0))).find((m) => m.name === 'm4')?.hex as string;
    assert.match(await ok(one(1), ['member', 'remove', m4id]), new RegExp(`^Member +${m4id} removed from cluster +[0-9a-f]+`));
    const code = await Promise.race([m4.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 15_000))]);
    assert.is.not(code, 'still running');
    assert.equal((await members(one(2))).map((m) => m.name).sort(), ['g1', 'g2', 'g3', 'm5']);
    const gone = await etcdctl(one(0), ['member', 'remove', m4id]);
    assert.match(gone.err, 'etcdserver: member not found');
  });
}

test.run();
