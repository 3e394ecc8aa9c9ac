/**
 * `npm run demo`: a 3-member quorumkv cluster as three processes on loopback (ws transport, file
 * storage in a temp dir). Shows the election, writes seen by a watch on another member, a lock
 * handed over with increasing fencing tokens, a kill -9 of the leader, the new leader, that no
 * acknowledged write was lost, the killed member restarting and catching up, and a clean shutdown.
 * Colors follow NO_COLOR / FORCE_COLOR=0. Finishes in well under 30 s.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoCommand, DemoMessage } from './demo-member.ts';
import { PendingCalls } from './support/pending-calls.ts';

const useColor = process.env['NO_COLOR'] === undefined && process.env['FORCE_COLOR'] !== '0' && process.stdout.isTTY === true;
const paint = (code: number) => (text: string) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint(1);
const dim = paint(2);
const red = paint(31);
const green = paint(32);
const yellow = paint(33);
const blue = paint(34);
const magenta = paint(35);
const cyan = paint(36);
const memberColor: Record<string, (t: string) => string> = { n1: cyan, n2: magenta, n3: yellow };
const tag = (member: string): string => (memberColor[member] ?? bold)(`[${member}]`);

const startedAtMs = Date.now();
const elapsed = (): string => dim(`${((Date.now() - startedAtMs) / 1000).toFixed(1).padStart(5)}s`);
function log(message: string): void {
  console.log(`${elapsed()}  ${message}`);
}
function step(title: string): void {
  console.log(`\n${bold(blue(`▶ ${title}`))}`);
}

/** A child process running examples/demo-member.ts, driven over IPC. */
class Member {
  readonly id: string;
  #child: ChildProcess | undefined;
  readonly #pending = new PendingCalls();
  readonly #stderr: string[] = [];
  readonly #onEvent: (name: string, data: Record<string, unknown>) => void;

  constructor(id: string, onEvent: (name: string, data: Record<string, unknown>) => void) {
    this.id = id;
    this.#onEvent = onEvent;
  }

  get alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get stderr(): string {
    return this.#stderr.join('');
  }

  start(dataDir: string, peers: Record<string, string>): Promise<Record<string, unknown>> {
    const script = fileURLToPath(new URL('./demo-member.ts', import.meta.url));
    const child = fork(script, [this.id, dataDir, JSON.stringify(peers)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.#child = child;
    child.stderr?.on('data', (d: Buffer) => this.#stderr.push(d.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo: ${this.id} did not become ready\n${this.stderr}`)), 45_000);
      child.on('message', (raw) => {
        const m = raw as DemoMessage;
        if (m.kind === 'reply') {
          if (m.ok) this.#pending.resolve(m.seq, m.result);
          else this.#pending.reject(m.seq, new Error(`${this.id}: ${m.error}`));
        } else if (m.name === 'ready') {
          clearTimeout(timer);
          resolve(m.data);
        } else {
          this.#onEvent(m.name, m.data);
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.#pending.rejectAll(new Error(`${this.id} exited (${signal ?? code})`));
        reject(new Error(`demo: ${this.id} exited before ready (${signal ?? code})\n${this.stderr}`));
      });
    });
  }

  call<R>(command: DemoCommand, timeoutMs = 20_000): Promise<R> {
    const child = this.#child;
    if (child === undefined || !this.alive) return Promise.reject(new Error(`${this.id} is not running`));
    return this.#pending.call<R>(
      (seq) => child.send({ seq, command }),
      timeoutMs,
      () => new Error(`demo: ${this.id} did not answer ${command.type} within ${timeoutMs} ms`),
    );
  }

  kill9(): Promise<void> {
    return this.#stop('SIGKILL');
  }

  async close(): Promise<void> {
    if (!this.alive) return;
    await this.call({ type: 'close' }, 5_000).catch(() => undefined);
    await this.#stop(undefined, 5_000);
  }

  #stop(signal: NodeJS.Signals | undefined, graceMs = 0): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.alive) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (signal !== undefined) child.kill(signal);
    });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Status {
  readonly role: string;
  readonly leader: string;
  readonly term: number;
  readonly revision: number;
}

async function leaderOf(members: Member[], timeoutMs = 10_000): Promise<{ leader: Member; term: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const m of members.filter((x) => x.alive)) {
      const s = await m.call<Status>({ type: 'status' }).catch(() => undefined);
      const leader = members.find((x) => x.id === s?.leader && x.alive);
      if (s !== undefined && leader !== undefined) {
        const ls = await leader.call<Status>({ type: 'status' }).catch(() => undefined);
        if (ls?.role === 'leader') return { leader, term: ls.term };
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('demo: no leader elected in time');
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'quorumkv-demo-'));
  const lockEvents: string[] = [];
  const watched: string[] = [];
  const onEvent = (name: string, data: Record<string, unknown>): void => {
    const member = String(data['member']);
    if (name === 'watch') {
      watched.push(String(data['key']));
      log(`${tag(member)} ${green('watch')} ${String(data['type'])} ${String(data['key'])} = ${JSON.stringify(data['value'])} ${dim(`@rev ${String(data['revision'])}`)}`);
    } else if (name === 'lock-acquired') {
      lockEvents.push(`${member}:${String(data['token'])}`);
      log(`${tag(member)} ${yellow('🔒 acquired')} /locks/report, fencing token ${bold(String(data['token']))}`);
    } else if (name === 'lock-released') {
      log(`${tag(member)} ${yellow('🔓 releases')} /locks/report (token ${String(data['token'])})`);
    } else if (name === 'watch-error') {
      log(`${tag(member)} ${red('watch ended')}: ${String(data['error'])}`);
    }
  };
  const ids = ['n1', 'n2', 'n3'];
  const members = ids.map((id) => new Member(id, onEvent));
  const ports = await Promise.all(ids.map(() => freePort()));
  const peers = Object.fromEntries(ids.map((id, i) => [id, `ws://127.0.0.1:${ports[i]}`]));
  try {
    console.log(bold('quorumkv demo — etcd as a library: three Node.js processes, one replicated store'));
    step('1. Start three member processes on loopback (ws transport, file storage)');
    log(dim(`data in ${root}`));
    await Promise.all(members.map((m, i) => m.start(join(root, m.id), peers).then(() => log(`${tag(m.id)} started, listening on ${peers[ids[i] as string]}`))));

    step('2. Raft elects a leader');
    const first = await leaderOf(members);
    log(`${tag(first.leader.id)} is ${green('leader')} for term ${first.term}; the others follow`);

    step('3. Writes on one member, a watch on another');
    const followers = members.filter((m) => m !== first.leader);
    const watcher = followers[0] as Member;
    const writer = followers[1] as Member;
    await watcher.call({ type: 'watch', prefix: '/demo/' });
    log(`${tag(watcher.id)} watches prefix /demo/`);
    const written: string[] = [];
    for (const [key, value] of [['/demo/greeting', 'hello'], ['/demo/config/db', { host: 'db1', port: 5432 }], ['/demo/counter', 1]] as const) {
      const revision = await writer.call<number>({ type: 'put', key, value });
      written.push(key);
      log(`${tag(writer.id)} put ${key} ${dim(`→ revision ${revision} (forwarded to the leader, committed by a quorum)`)}`);
    }
    await waitFor(() => written.every((k) => watched.includes(k)), 15_000, 'watch events');

    step('4. A lock handed over between members, with fencing tokens');
    const [holderA, holderB] = [members[0] as Member, members[2] as Member];
    const a = holderA.call<{ token: number; fencedWrite: boolean }>({ type: 'lock', name: '/locks/report', holdMs: 700, resource: '/demo/report' });
    await new Promise((r) => setTimeout(r, 150));
    const b = holderB.call<{ token: number; fencedWrite: boolean }>({ type: 'lock', name: '/locks/report', holdMs: 100, resource: '/demo/report' });
    const [ra, rb] = await Promise.all([a, b]);
    log(`tokens ${ra.token} → ${rb.token}: ${rb.token > ra.token ? green('strictly increasing') : red('NOT increasing')}; both fenced writes (cmp.owns) ${ra.fencedWrite && rb.fencedWrite ? green('accepted') : red('rejected')}`);
    if (!(rb.token > ra.token)) throw new Error('fencing tokens did not increase');
    written.push('/demo/report');

    step('5. kill -9 the leader');
    const before = await leaderOf(members);
    const victim = before.leader;
    log(`${tag(victim.id)} ${red('kill -9')} (leader of term ${before.term})`);
    const killedAt = Date.now();
    await victim.kill9();
    const after = await leaderOf(members.filter((m) => m !== victim), 15_000);
    log(`${tag(after.leader.id)} is the ${green('new leader')} for term ${after.term}, elected ${Date.now() - killedAt} ms after the kill`);

    step('6. Nothing acknowledged was lost');
    const survivor = after.leader;
    const extra = await survivor.call<number>({ type: 'put', key: '/demo/after-failover', value: 'still writable' });
    written.push('/demo/after-failover');
    log(`${tag(survivor.id)} put /demo/after-failover ${dim(`→ revision ${extra}`)}`);
    const read = await survivor.call<{ kvs: { key: string }[] }>({ type: 'range', prefix: '/demo/' });
    const missing = written.filter((k) => !read.kvs.some((kv) => kv.key === k));
    log(`linearizable read of /demo/: ${read.kvs.length} keys, ${missing.length === 0 ? green('every acknowledged write is there') : red(`missing ${missing.join(', ')}`)}`);
    if (missing.length > 0) throw new Error('lost writes');

    step('7. The killed member restarts from its data dir and catches up');
    await victim.start(join(root, victim.id), peers);
    await waitForAsync(async () => {
      const r = await victim.call<{ kvs: { key: string }[] }>({ type: 'range', prefix: '/demo/', consistency: 'serializable' });
      return written.every((k) => r.kvs.some((kv) => kv.key === k));
    }, 30_000, 'restarted member catch-up');
    log(`${tag(victim.id)} rejoined as a follower; its local (serializable) read shows all ${written.length} keys`);

    step('8. Clean shutdown');
    for (const m of members) {
      await m.close();
      log(`${tag(m.id)} closed`);
    }
    console.log(`\n${green(bold('✔ demo finished'))} in ${((Date.now() - startedAtMs) / 1000).toFixed(1)} s`);
  } catch (err) {
    for (const m of members) if (m.stderr !== '') console.error(dim(`--- ${m.id} stderr ---\n${m.stderr}`));
    throw err;
  } finally {
    await Promise.all(members.map((m) => m.kill9()));
    rmSync(root, { recursive: true, force: true });
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await waitForAsync(async () => cond(), timeoutMs, what);
}

async function waitForAsync(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`demo: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(red(`demo failed: ${err instanceof Error ? err.message : String(err)}`));
    process.exit(1);
  },
);
