// Proves the article's section 八 etcdctl session (../shared/reference/etcd-article-zh.md) runs
// unchanged against quorumkv: Debian's real etcdctl with ETCDCTL_API=2 against a 3-process
// cluster of standalone members — set with a TTL that expires (an exec-watch sees `expire`), get, update dropping the TTL, rm,
// mk, mkdir, setdir, updatedir, rmdir, ls (--recursive -p), watch (--forever, --after-index,
// --recursive), exec-watch (--recursive, --after-index) and member list/add/remove — with every
// output line, error line and exit code the article shows. Then the same session against a
// 3-process `etcd --enable-v2` cluster, diffed record by record with the indexes in brackets
// masked. Without etcd installed that part is skipped with a note, except in CI (CI set),
// where it fails. Skipped entirely when etcdctl is not installed.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, removeDir, tempDir, waitFor } from '../cli/helpers.ts';
import { hasEtcdctl, startProcessCluster } from '../grpc/helpers.ts';
import type { ProcessCluster } from '../grpc/helpers.ts';
import { stopProcess } from '../helpers/process.ts';
import { ARTICLE_SESSION, errMatches, etcdctl2, replay } from './session.ts';
import type { Record } from './session.ts';

const hasEtcd = spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0;

let cluster: ProcessCluster | undefined;
let ours: Record[] = [];
let oursMembers: Record[] = [];

/** The member commands of the article: list, add a member on a free loopback port, remove it. */
async function memberSession(endpoint: string): Promise<Record[]> {
  const records: Record[] = [await etcdctl2(endpoint, ['member', 'list'])];
  const peer = `http://127.0.0.1:${await freePort()}`;
  const added = await etcdctl2(endpoint, ['member', 'add', 'etcd3', peer]);
  records.push(added, await etcdctl2(endpoint, ['member', 'list']));
  const id = /with ID ([0-9a-f]+) to cluster/.exec(added.out)?.[1] ?? 'none';
  records.push(await etcdctl2(endpoint, ['member', 'remove', id]), await etcdctl2(endpoint, ['member', 'list']));
  return records;
}

function checkMembers(records: readonly Record[], names: RegExp): void {
  const [list, added, listed4, removed, listed3] = records as [Record, Record, Record, Record, Record];
  const line = new RegExp(`^[0-9a-f]+: name=${names.source} peerURLs=\\S+ clientURLs=\\S* isLeader=(true|false)$`);
  const lines = list.out.trim().split('\n');
  assert.is(list.code, 0, list.err);
  assert.is(lines.length, 3, list.out);
  for (const l of lines) assert.match(l, line);
  assert.is(lines.filter((l) => l.endsWith('isLeader=true')).length, 1, list.out);
  assert.is(added.code, 0, added.err);
  assert.match(added.out, /^Added member named etcd3 with ID [0-9a-f]+ to cluster\n\nETCD_NAME="etcd3"\nETCD_INITIAL_CLUSTER="[^"]*etcd3=[^"]+"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$/);
  assert.is(listed4.out.trim().split('\n').length, 4, listed4.out);
  const id = /with ID ([0-9a-f]+) to cluster/.exec(added.out)?.[1] ?? '';
  assert.is(removed.out, `Removed member ${id} from cluster\n`, removed.err);
  assert.is(removed.code, 0);
  assert.is(listed3.out.trim().split('\n').length, 3, listed3.out);
}

function checkArticle(records: readonly Record[]): void {
  let i = 0;
  for (const step of ARTICLE_SESSION) {
    if (step.kind === 'sleep') continue;
    const r = records[i++] as Record;
    if (step.kind === 'save') {
      assert.is(r.code, 0, `${r.step}: ${r.err}`);
      continue;
    }
    assert.is(r.out, step.out, `stdout of ${r.step} (stderr: ${r.err})`);
    if (step.kind === 'run') {
      assert.is(r.code, step.code, `exit code of ${r.step}`);
      assert.ok(errMatches(step.err ?? '', r.err), `stderr of ${r.step}: ${JSON.stringify(r.err)}`);
    } else assert.is(r.err, '', `stderr of ${r.step}`);
  }
  assert.is(i, records.length);
}

if (!hasEtcdctl) {
  console.log('etcdctl not installed: skipping the article session (apt-get install etcd-client)');
} else {
  test.before(async () => {
    cluster = await startProcessCluster('v2-article');
  });
  test.after(async () => {
    await cluster?.stop();
  });

  test("the article's session against a 3-process quorumkv cluster, output for output", async () => {
    const c = cluster as ProcessCluster;
    const endpoint = (c.members[1] as (typeof c.members)[number]).clientUrl;
    ours = await replay(endpoint, ARTICLE_SESSION);
    checkArticle(ours);
  });

  test('member list, add and remove (v2 members API)', async () => {
    const c = cluster as ProcessCluster;
    oursMembers = await memberSession((c.members[0] as (typeof c.members)[number]).clientUrl);
    checkMembers(oursMembers, /g[123]/);
  });

  test('the same session against etcd --enable-v2 (3 processes) prints the same, indexes masked', async () => {
    if (!hasEtcd) {
      if (process.env['CI'] !== undefined) assert.unreachable('etcd (etcd-server) is not installed on CI: .ci/run installs it');
      console.log('etcd not installed: skipping the etcd differential (apt-get install etcd-server)');
      return;
    }
    const etcd = await startEtcdCluster();
    try {
      const theirs = await replay(etcd.endpoint, ARTICLE_SESSION);
      const mask = (r: Record): Record => ({ ...r, step: r.step.replace(/--after-index \d+/, '--after-index N'), err: r.err.replace(/\[\d+\]\n/g, '[N]\n') });
      assert.is(theirs.length, ours.length);
      const differing = ours.map(mask).flatMap((r, i) => {
        const t = mask(theirs[i] as Record);
        return JSON.stringify(r) === JSON.stringify(t) ? [] : [`quorumkv ${JSON.stringify(r)}\n    etcd ${JSON.stringify(t)}`];
      });
      assert.equal(differing, [], differing.join('\n'));
      const theirMembers = await memberSession(etcd.endpoint);
      checkMembers(theirMembers, /e[123]/);
      // Member ids, names and URLs differ by nature; the shape of every line is the same.
      const shape = (r: Record): string => r.out.replace(/[0-9a-f]{8,16}/g, 'ID').replace(/name=\S+/g, 'name=N').replace(/(peer|client)URLs=\S*/g, '$1URLs=U').replace(/ETCD_INITIAL_CLUSTER="[^"]*"/, 'ETCD_INITIAL_CLUSTER="C"');
      assert.equal(shape(oursMembers[1] as Record), shape(theirMembers[1] as Record));
      assert.equal(shape(oursMembers[3] as Record), shape(theirMembers[3] as Record));
    } finally {
      await etcd.stop();
    }
  });

  test.run();
}

interface EtcdCluster {
  readonly endpoint: string;
  stop(): Promise<void>;
}

async function startEtcdCluster(): Promise<EtcdCluster> {
  const dir = tempDir('v2-article-etcd');
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ['e1', 'e2', 'e3'];
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i]}`).join(',');
  const children: ChildProcess[] = names.map((name, i) => {
    const peer = `http://127.0.0.1:${ports[i]}`;
    const client = `http://127.0.0.1:${ports[i + 3]}`;
    const args = ['--enable-v2', '--name', name, '--data-dir', join(dir, name), '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer];
    args.push('--listen-client-urls', client, '--advertise-client-urls', client, '--initial-cluster', initial, '--initial-cluster-state', 'new');
    args.push('--heartbeat-interval', '50', '--election-timeout', '500', '--logger', 'zap', '--log-level', 'error');
    return spawn('etcd', args, { stdio: 'ignore' });
  });
  const endpoint = `http://127.0.0.1:${ports[3]}`;
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopProcess(c)));
    removeDir(dir);
  };
  try {
    await waitFor('etcd answers v2 requests', async () => ((await etcdctl2(endpoint, ['ls'], 3_000)).code === 0 ? true : undefined), 60_000, 300);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, stop };
}
