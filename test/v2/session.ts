// The etcdctl v2 session of the article's section 八 (../shared/reference/etcd-article-zh.md) as
// data, and a runner that replays it with Debian's real `etcdctl` (ETCDCTL_API=2) against one
// endpoint, recording every command's stdout, stderr and exit code. Not a test file.
import { spawn } from 'node:child_process';
import { runProcess } from '../helpers/process.ts';
import { sleep } from '../helpers/time.ts';

/** One command of the session and what the article shows for it. */
export interface RunStep {
  readonly kind: 'run';
  readonly args: readonly string[];
  /** Expected stdout (exact). */
  readonly out: string;
  /** Expected stderr, with `[N]` standing for the index in brackets. */
  readonly err?: string;
  readonly code: number;
}

/** A long-running command (watch, exec-watch) started, fed by `triggers`, stopped once `out` shows. */
export interface WatchStep {
  readonly kind: 'watch';
  readonly args: readonly string[];
  /** Commands run once the watcher is waiting; `{index}` is the index saved by the last `save` step. */
  readonly triggers: readonly (readonly string[])[];
  readonly out: string;
  /** Whether the command ends by itself once `out` is printed (watch without --forever). */
  readonly exits: boolean;
}

export interface SleepStep {
  readonly kind: 'sleep';
  readonly ms: number;
}

/** Runs `args` with `-o extended` and saves the `Modified-Index` it prints as `{index}`. */
export interface SaveIndexStep {
  readonly kind: 'save';
  readonly args: readonly string[];
}

export type Step = RunStep | WatchStep | SleepStep | SaveIndexStep;

/** What one step printed. */
export interface Record {
  readonly step: string;
  readonly out: string;
  readonly err: string;
  readonly code: number;
}

const KEY_NOT_FOUND = (key: string): string => `Error:  100: Key not found (${key}) [N]\n`;

/** The article's session, in its order; TTLs and waits as the article has them (5 s). */
export const ARTICLE_SESSION: readonly Step[] = [
  // set / get, and the TTL expiring.
  { kind: 'run', args: ['set', '/testdir/testkey', 'Hello world', '--ttl', '5'], out: 'Hello world\n', code: 0 },
  { kind: 'run', args: ['get', '/testdir/testkey'], out: 'Hello world\n', code: 0 },
  // The article waits out the TTL; here an exec-watch waits with it and sees the expiry.
  { kind: 'watch', args: ['exec-watch', 'sh', '-c', 'echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY"', 'testdir/testkey'], triggers: [], out: 'expire /testdir/testkey\n', exits: false },
  { kind: 'run', args: ['get', '/testdir/testkey'], out: '', err: KEY_NOT_FOUND('/testdir/testkey'), code: 4 },
  { kind: 'run', args: ['get', '/testdir/testkey2'], out: '', err: KEY_NOT_FOUND('/testdir/testkey2'), code: 4 },
  // update drops the TTL (the article waits and still reads the value).
  { kind: 'run', args: ['set', '/testdir/testkey', 'Hello world', '--ttl', '5'], out: 'Hello world\n', code: 0 },
  { kind: 'run', args: ['update', '/testdir/testkey', 'Hello'], out: 'Hello\n', code: 0 },
  { kind: 'sleep', ms: 6_000 },
  { kind: 'run', args: ['get', '/testdir/testkey'], out: 'Hello\n', code: 0 },
  { kind: 'run', args: ['update', '/testdir/testkey2', 'Hello'], out: '', err: KEY_NOT_FOUND('/testdir/testkey2'), code: 4 },
  // rm, mk.
  { kind: 'run', args: ['rm', '/testdir/testkey'], out: 'PrevNode.Value: Hello\n', code: 0 },
  { kind: 'run', args: ['rm', '/testdir/testkey'], out: '', err: KEY_NOT_FOUND('/testdir/testkey'), code: 4 },
  { kind: 'run', args: ['mk', '/testdir/testkey', 'Hello world'], out: 'Hello world\n', code: 0 },
  { kind: 'run', args: ['mk', '/testdir/testkey', 'Hello world'], out: '', err: 'Error:  105: Key already exists (/testdir/testkey) [N]\n', code: 4 },
  // Directories.
  { kind: 'run', args: ['mkdir', 'testdir2'], out: '', code: 0 },
  { kind: 'run', args: ['mkdir', 'testdir2'], out: '', err: 'Error:  105: Key already exists (/testdir2) [N]\n', code: 4 },
  { kind: 'run', args: ['setdir', 'testdir3'], out: '', code: 0 },
  { kind: 'run', args: ['updatedir', 'testdir2'], out: '', code: 0 },
  { kind: 'run', args: ['setdir', 'dir1'], out: '', code: 0 },
  { kind: 'run', args: ['rmdir', 'dir1'], out: '', code: 0 },
  { kind: 'run', args: ['set', '/dir/testkey', 'hi'], out: 'hi\n', code: 0 },
  { kind: 'run', args: ['rmdir', '/dir'], out: '', err: 'Error:  108: Directory not empty (/dir) [N]\n', code: 4 },
  // ls: sorted, so that both servers print one order (etcd's unsorted order is its map's).
  { kind: 'run', args: ['ls', '--sort'], out: '/dir\n/testdir\n/testdir2\n/testdir3\n', code: 0 },
  { kind: 'run', args: ['ls', 'dir'], out: '/dir/testkey\n', code: 0 },
  { kind: 'run', args: ['ls', '--sort', '--recursive', '-p'], out: '/dir/\n/dir/testkey\n/testdir/\n/testdir/testkey\n/testdir2/\n/testdir3/\n', code: 0 },
  // watch and its options.
  { kind: 'run', args: ['get', '/testdir/testkey'], out: 'Hello world\n', code: 0 },
  { kind: 'watch', args: ['watch', 'testdir/testkey'], triggers: [['set', '/testdir/testkey', 'Hello watch']], out: 'Hello watch\n', exits: true },
  { kind: 'watch', args: ['watch', '--forever', 'testdir/testkey'], triggers: [['set', '/testdir/testkey', 'one'], ['set', '/testdir/testkey', 'two']], out: 'one\ntwo\n', exits: false },
  { kind: 'watch', args: ['watch', '--recursive', 'testdir'], triggers: [['set', '/testdir/other', 'deep']], out: '[set] /testdir/other\ndeep\n', exits: true },
  { kind: 'save', args: ['set', '/testdir/testkey', 'before'] },
  { kind: 'run', args: ['set', '/testdir/testkey', 'after'], out: 'after\n', code: 0 },
  { kind: 'watch', args: ['watch', '--after-index', '{index}', 'testdir/testkey'], triggers: [], out: 'after\n', exits: true },
  // exec-watch runs its command once per change, with etcd's ETCD_WATCH_* environment. etcdctl
  // 3.4 takes the article's `exec-watch <key> -- <cmd>` only with a boolean flag before it;
  // otherwise it reads the last word as the key (its `--` is dropped by the flag parser), so
  // the forms below are the ones 3.4 reads as meant — against etcd as against quorumkv.
  {
    kind: 'watch',
    args: ['exec-watch', 'sh', '-c', 'echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"', 'testdir/testkey'],
    triggers: [['set', '/testdir/testkey', 'x1'], ['rm', '/testdir/testkey']],
    out: 'set /testdir/testkey x1\ndelete /testdir/testkey \n',
    exits: false,
  },
  {
    kind: 'watch',
    args: ['exec-watch', '--recursive', 'testdir', '--', 'sh', '-c', 'echo "$ETCD_WATCH_KEY=$ETCD_WATCH_VALUE"'],
    triggers: [['set', '/testdir/a', '1'], ['set', '/testdir/b', '2']],
    out: '/testdir/a=1\n/testdir/b=2\n',
    exits: false,
  },
  { kind: 'save', args: ['set', '/testdir/c', 'c1'] },
  { kind: 'run', args: ['set', '/testdir/c', 'c2'], out: 'c2\n', code: 0 },
  {
    kind: 'watch',
    args: ['exec-watch', '--after-index', '{index}', 'sh', '-c', 'echo "$ETCD_WATCH_VALUE"', 'testdir/c'],
    triggers: [],
    out: 'c2\n',
    exits: false,
  },
];

/** Whether `err` is what the article shows, `[N]` standing for any index. */
export function errMatches(expected: string, actual: string): boolean {
  return actual.replace(/\[\d+\]\n/g, '[N]\n') === expected;
}

function spawnEtcdctl(endpoint: string, args: readonly string[]) {
  return spawn('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '2' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs one etcdctl v2 command to its end (bounded). */
export async function etcdctl2(endpoint: string, args: readonly string[], timeoutMs = 20_000): Promise<Record> {
  const r = await runProcess('etcdctl', ['--endpoints', endpoint, ...args], { timeoutMs, env: { ...process.env, ETCDCTL_API: '2' } });
  return { step: args.join(' '), ...r };
}

/** Time a watcher gets to send its request before the triggers run (etcdctl syncs first). */
const WATCH_SETTLE_MS = 1_500;
/** Bound on a watch step's output arriving. */
const WATCH_TIMEOUT_MS = 15_000;

async function runWatch(endpoint: string, step: WatchStep, args: readonly string[]): Promise<Record> {
  const child = spawnEtcdctl(endpoint, args);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  await sleep(WATCH_SETTLE_MS);
  for (const t of step.triggers) {
    const r = await etcdctl2(endpoint, t);
    if (r.code !== 0) err += `trigger ${t.join(' ')} failed: ${r.err}`;
  }
  const deadline = Date.now() + WATCH_TIMEOUT_MS;
  while (out.length < step.out.length && child.exitCode === null && Date.now() < deadline) await sleep(50);
  let code: number;
  if (step.exits) {
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(1, deadline - Date.now()));
    code = await closed;
    clearTimeout(timer);
  } else {
    // --forever and exec-watch run until interrupted, as in the article (CTRL+C).
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    code = await closed;
    clearTimeout(timer);
    code = 0;
  }
  return { step: args.join(' '), out, err, code };
}

/** Replays `session` against `endpoint`; one record per step that prints (sleeps record nothing). */
export async function replay(endpoint: string, session: readonly Step[]): Promise<Record[]> {
  const records: Record[] = [];
  let index = '0';
  for (const step of session) {
    if (step.kind === 'sleep') await sleep(step.ms);
    else if (step.kind === 'run') records.push(await etcdctl2(endpoint, step.args));
    else if (step.kind === 'save') {
      const r = await etcdctl2(endpoint, ['-o', 'extended', ...step.args]);
      index = /Modified-Index: (\d+)/.exec(r.out)?.[1] ?? 'missing';
      records.push({ step: step.args.join(' '), out: '', err: index === 'missing' ? r.err || r.out : '', code: r.code });
    } else records.push(await runWatch(endpoint, step, step.args.map((a) => a.replace('{index}', index))));
  }
  return records;
}
