// Proves the `quorumkv` key commands print the indexes etcdctl v2 prints: one standalone member,
// one session in which the `quorumkv` CLI and Debian's real `ETCDCTL_API=2 etcdctl` take turns —
// each reads what the other wrote — and every reply (`--json` / `-o json`: action, node and
// prevNode with their indexes), every error line (`Error:  100: … [N]`, the same N) and every
// watched change (`watch --after-index`, a TTL's `expire`, `exec-watch`'s
// ETCD_WATCH_MODIFIED_INDEX) must be the same from both. Skipped when etcdctl is not installed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hasEtcdctl } from '../grpc/helpers.ts';
import { sleep } from '../helpers/time.ts';
import { etcdctl2 } from '../v2/session.ts';
import { cli, freePort, mainTs, removeDir, root, startMember, tempDir, waitFor } from './helpers.ts';
import type { MemberProcess } from './helpers.ts';

const dir = tempDir('v2-indexes');
let member: MemberProcess | undefined;
let url = '';

interface Node {
  readonly key?: string;
  readonly value?: string;
  readonly dir?: boolean;
  readonly modifiedIndex?: number;
  readonly createdIndex?: number;
}
interface Reply {
  readonly action?: string;
  readonly node?: Node;
  readonly prevNode?: Node | null;
}

/** The fields both clients print, in one shape (etcdctl adds `"prevNode":null`, `"value":""` on dirs). */
function shape(text: string): unknown {
  const r = JSON.parse(text) as Reply;
  const node = (n: Node | null | undefined): unknown => (n === null || n === undefined ? undefined : { key: n.key, value: n.dir === true ? undefined : (n.value ?? ''), dir: n.dir === true, modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex });
  return { action: r.action, node: node(r.node), prevNode: node(r.prevNode) };
}

async function ours(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  return cli(url, ...args);
}

async function theirs(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  return etcdctl2(url, args);
}

async function bothJson(...args: string[]): Promise<[unknown, unknown]> {
  const a = await ours('--json', ...args);
  const b = await theirs('-o', 'json', ...args);
  assert.is(a.code, 0, `quorumkv ${args.join(' ')}: ${a.err}`);
  assert.is(b.code, 0, `etcdctl ${args.join(' ')}: ${b.err}`);
  return [shape(a.out), shape(b.out)];
}

if (!hasEtcdctl) {
  console.log('etcdctl not installed: skipping the index comparison (apt-get install etcd-client)');
} else {
  test.before(async () => {
    const [peerPort, clientPort] = [await freePort(), await freePort()];
    member = startMember({ name: 'i1', peerPort, clientPort, dataDir: join(dir, 'i1') });
    url = member.clientUrl;
    await waitFor('the member to serve v2', async () => ((await theirs('ls')).code === 0 ? true : undefined), 60_000, 200);
  });
  test.after(async () => {
    await member?.stop();
    removeDir(dir);
  });

  test('writes by one client read back with the same indexes by the other', async () => {
    const set = shape((await ours('--json', 'set', '/idx/a', 'one')).out) as { node: Node };
    const [a1, b1] = await bothJson('get', '/idx/a');
    assert.equal(a1, b1);
    assert.equal((a1 as { node: Node }).node, set.node);
    const two = shape((await theirs('-o', 'json', 'set', '/idx/a', 'two')).out) as { node: Node; prevNode: Node };
    assert.equal(two.prevNode, set.node, 'etcdctl sees the index quorumkv printed');
    const [a2, b2] = await bothJson('get', '/idx/a');
    assert.equal(a2, b2);
    assert.equal((a2 as { node: Node }).node, two.node, 'quorumkv sees the index etcdctl printed');
    const upd = shape((await ours('--json', 'update', '/idx/a', 'three')).out) as { node: Node; prevNode: Node };
    assert.equal(upd.prevNode, two.node);
    const mk = shape((await theirs('-o', 'json', 'mk', '/idx/b', 'b')).out) as { node: Node };
    const [a3, b3] = await bothJson('get', '/idx/b');
    assert.equal(a3, b3);
    assert.equal((a3 as { node: Node }).node, mk.node);
    const queued = shape((await ours('--json', 'mk', '--in-order', '/idx/q', 'job')).out) as { action: string; node: Node };
    assert.is(queued.action, 'create');
    const [a4, b4] = await bothJson('get', queued.node.key ?? '');
    assert.equal(a4, b4);
    assert.equal((a4 as { node: Node }).node, queued.node);
  });

  test('the same failing request prints the same error line, index included', async () => {
    const cases: string[][] = [
      ['get', '/idx/missing'],
      ['update', '/idx/missing', 'x'],
      ['mk', '/idx/a', 'again'],
      ['set', '/idx/a', 'x', '--swap-with-value', 'nope'],
      ['set', '/idx/a', 'x', '--swap-with-index', '1'],
      ['rm', '/idx/a', '--with-index', '1'],
      ['rm', '/idx'],
      ['mkdir', '/idx'],
    ];
    for (const c of cases) {
      const [a, b] = [await ours(...c), await theirs(...c)];
      assert.match(a.err, /^Error: {2}\d{3}: .* \[\d+\]\n$/, `quorumkv ${c.join(' ')}`);
      assert.is(a.err, b.err, c.join(' '));
      assert.is(a.code, b.code, `exit code of ${c.join(' ')}`);
    }
  });

  test('a delete: the same reply, and the next error names its index', async () => {
    const rm = shape((await ours('--json', 'rm', '/idx/b')).out) as { action: string; node: Node; prevNode: Node };
    assert.is(rm.action, 'delete');
    const [a, b] = [await ours('get', '/idx/b'), await theirs('get', '/idx/b')];
    assert.is(a.err, `Error:  100: Key not found (/idx/b) [${rm.node.modifiedIndex}]\n`);
    assert.is(b.err, a.err);
  });

  test('watch --after-index replays the same change with the same index', async () => {
    const first = shape((await ours('--json', 'set', '/idx/w', 'w1')).out) as { node: Node };
    await ours('set', '/idx/w', 'w2');
    const after = String((first.node.modifiedIndex ?? 0) - 1);
    const [a, b] = await bothJson('watch', '--after-index', after, '/idx/w');
    assert.equal(a, b);
    assert.equal((a as { node: Node }).node, first.node);
    const [ra, rb] = [await ours('watch', '--recursive', '--after-index', after, '/idx'), await theirs('watch', '--recursive', '--after-index', after, '/idx')];
    assert.is(ra.out, '[set] /idx/w\nw1\n');
    assert.is(ra.out, rb.out);
  });

  test('a TTL running out replays as the same expire to both watchers', async () => {
    const set = shape((await ours('--json', 'set', '/idx/t', 'brief', '--ttl', '1')).out) as { node: Node };
    await waitFor('the key to expire', async () => ((await theirs('get', '/idx/t')).code === 4 ? true : undefined), 20_000, 200);
    const [a, b] = await bothJson('watch', '--after-index', String(set.node.modifiedIndex), '/idx/t');
    assert.equal(a, b);
    assert.is((a as { action: string }).action, 'expire');
    assert.equal((a as { prevNode: Node }).prevNode, set.node);
    const [ra, rb] = [await ours('watch', '--recursive', '--after-index', String(set.node.modifiedIndex), '/idx'), await theirs('watch', '--recursive', '--after-index', String(set.node.modifiedIndex), '/idx')];
    assert.is(ra.out, '[expire] /idx/t\n\n');
    assert.is(ra.out, rb.out);
  });

  test("exec-watch hands the command the same ETCD_WATCH_MODIFIED_INDEX as etcdctl's", async () => {
    const from = shape((await ours('--json', 'set', '/idx/e', 'e1')).out) as { node: Node };
    await theirs('set', '/idx/e', 'e2');
    const after = String((from.node.modifiedIndex ?? 0) - 1);
    const script = 'echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_MODIFIED_INDEX"';
    const run = async (file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> => {
      const child = spawn(file, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const closed = new Promise((r) => child.once('close', r));
      try {
        await waitFor('two changes run', async () => (out.split('\n').length > 2 ? true : undefined), 20_000, 50);
      } finally {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await closed;
        clearTimeout(timer);
      }
      return out;
    };
    const mine = await run(process.execPath, ['--import', 'tsx', mainTs, '--endpoints', url, 'exec-watch', '--after-index', after, '/idx/e', '--', 'sh', '-c', script], process.env);
    const etcd = await run('etcdctl', ['--endpoints', url, 'exec-watch', '--after-index', after, 'sh', '-c', script, '/idx/e'], { ...process.env, ETCDCTL_API: '2' });
    assert.is(mine, `set /idx/e e1 ${from.node.modifiedIndex}\nset /idx/e e2 ${(from.node.modifiedIndex ?? 0) + 1}\n`);
    // Under load etcdctl v2's two lines have come in the other order; ours run one after the
    // other (asserted in order above), so the comparison with etcdctl is of the lines as a set.
    const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '').sort();
    assert.equal(lines(etcd), lines(mine));
    await sleep(0);
  });

  test.run();
}
