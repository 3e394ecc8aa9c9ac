// Proves lock safety across real processes: 3 member processes on loopback (ws transport, file
// storage), 2 lock clients in each, contend for one lock. Faults: the process of a client that
// just acquired the lock is paused with SIGSTOP for 3 s (past its 800 ms lease TTL plus a failover) and resumed;
// later another member is killed with SIGKILL. Every write to /protected is fenced with
// cmp.owns(lock). We assert: no write reported accepted came from a holder that had been paused
// past its TTL while it was the owner (the store refused them), and — from the surviving member's
// MVCC history — every accepted write's fencing token was the lock owner's create revision at that
// revision, with tokens strictly increasing. A campaigner per member runs an election meanwhile;
// every write fenced with cmp.owns(election) must come from the only leader (oldest key) at its
// revision — at no revision are two campaigners leader.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../helpers/ports.ts';
import { sleep } from '../helpers/time.ts';

interface Msg {
  readonly kind: string;
  readonly id: string;
  readonly client?: string;
  readonly token?: number;
  readonly succeeded?: boolean;
  readonly revision?: number;
  readonly writes?: number;
  readonly leaderWrites?: number;
  readonly violations?: string[];
}

/** The next message of `kind` from child `id`, or a rejection after `timeoutMs`. */
function nextMessage(children: Map<string, ChildProcess>, id: string, kind: string, timeoutMs: number): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const child = children.get(id);
    if (child === undefined) return reject(new Error(`no child ${id}`));
    const timer = setTimeout(() => reject(new Error(`${id} did not send ${kind} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (raw: unknown): void => {
      const m = raw as Msg;
      if (m.kind !== kind) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
  });
}


test('lock and election safety across 3 member processes with SIGSTOP past the TTL and SIGKILL', async () => {
  const root = mkdtempSync(join(tmpdir(), 'qkv-recipes-mp-'));
  const ids = ['m1', 'm2', 'm3'];
  const ports = await Promise.all(ids.map(() => freePort()));
  const peers = Object.fromEntries(ids.map((id, i) => [id, `ws://127.0.0.1:${ports[i]}`]));
  const children = new Map<string, ChildProcess>();
  const writes: Msg[] = [];
  const acquired: Msg[] = [];
  const leaderWrites: Msg[] = [];
  const paused = new Set<string>(); // clients whose process was stopped while they held the lock
  try {
    for (const id of ids) {
      const child = fork('test/recipes/fixtures/lock-member.ts', [id, join(root, id), JSON.stringify(peers), '2'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      child.on('message', (raw) => {
        const m = raw as Msg;
        if (m.kind === 'write') writes.push(m);
        if (m.kind === 'acquired') acquired.push(m);
        if (m.kind === 'leader-write') leaderWrites.push(m);
      });
      children.set(id, child);
    }
    await Promise.all(ids.map((id) => nextMessage(children, id, 'ready', 60_000)));
    for (const c of children.values()) c.send({ kind: 'go' });

    // SIGSTOP the process of the next client to acquire, for 3 s (its lease TTL is 800 ms).
    await sleep(1_000);
    const holder = await new Promise<Msg>((resolve) => {
      const seen = acquired.length;
      const timer = setInterval(() => {
        const m = acquired[acquired.length - 1];
        if (acquired.length > seen && m !== undefined) {
          clearInterval(timer);
          resolve(m);
        }
      }, 5);
    });
    const stopped = children.get(holder.id) as ChildProcess;
    stopped.kill('SIGSTOP');
    for (const m of acquired) if (m.id === holder.id) paused.add(`${m.client}:${m.token}`);
    await sleep(3_000);
    stopped.kill('SIGCONT');
    await sleep(1_500);

    // SIGKILL a member that was not paused.
    const victimId = ids.find((id) => id !== holder.id) as string;
    children.get(victimId)?.kill('SIGKILL');
    children.delete(victimId);
    await sleep(2_500);

    for (const c of children.values()) c.send({ kind: 'stop' });
    await Promise.all([...children.keys()].map((id) => nextMessage(children, id, 'stopped', 15_000)));

    const accepted = writes.filter((w) => w.succeeded === true);
    const pausedWrites = writes.filter((w) => paused.has(`${w.client}:${w.token}`));
    console.log(`multiprocess: ${writes.length} fenced writes, ${accepted.length} accepted; paused holder ${holder.client} token ${holder.token}: ${pausedWrites.map((w) => (w.succeeded ? 'ACCEPTED' : 'refused')).join(',')}`);
    assert.ok(accepted.length >= 5, 'the lock made progress');
    assert.ok(pausedWrites.some((w) => w.token === holder.token && w.succeeded === false), 'the paused holder’s write after resume was refused');
    const reader = [...children.keys()].find((id) => id !== holder.id) ?? holder.id;
    children.get(reader)?.send({ kind: 'verify' });
    const verified = await nextMessage(children, reader, 'verified', 30_000);
    console.log(`multiprocess: history on ${reader}: ${verified.writes} lock-fenced writes, ${verified.leaderWrites} leader-fenced writes (${leaderWrites.filter((w) => w.succeeded === false).length} stale ones refused), ${verified.violations?.length} violations`);
    assert.equal(verified.violations, [], 'every accepted write came from the owner, tokens strictly increase');
    assert.ok((verified.writes ?? 0) >= accepted.length, 'every acknowledged write is in the history');
    assert.ok((verified.leaderWrites ?? 0) >= 3, 'the election made progress');
  } finally {
    for (const c of children.values()) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
