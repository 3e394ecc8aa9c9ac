// Proves the recipes' request budget on a single in-process member, counting every node call
// through a spy: an uncontended lock acquire is ONE txn (it creates the key and learns whether
// anyone is ahead in the same txn) and a release ONE txn, with no read, no watch and no lease work
// per cycle on a shared session; likewise the RW lock, a semaphore under capacity and an
// uncontended campaign. Also: holders on a shared session register no `lost` listener on it (O(1)
// per acquire/release) yet every holder still learns of the loss; a key resumed after a restart
// (the entry txn's else branch) keeps its place and token; a bad name rejects, never throws.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError } from '../../src/errors.ts';
import { acquireLock, createElection, createRWLock, createSemaphore, createSession, lockKey } from '../../src/index.ts';
import type { Lock, QuorumNode } from '../../src/index.ts';
import { spyCalls, startSingle, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

function counts(calls: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...calls].sort(([a], [b]) => a.localeCompare(b)));
}

test('uncontended lock cycle on a shared session: one txn to acquire, one to release, nothing else', async () => {
  const session = await createSession(node, { ttlMs: 5_000 });
  const spy = spyCalls(node);
  for (let i = 0; i < 5; i++) {
    spy.reset();
    const lock = await acquireLock(spy.node, '/rt/lock', { session });
    assert.equal(counts(spy.calls), { txn: 1 }, 'acquire');
    spy.reset();
    assert.ok(await lock.release());
    assert.equal(counts(spy.calls), { txn: 1 }, 'release');
  }
  await session.close();
});

test('a contended acquire reads and watches only after the entry txn finds someone ahead', async () => {
  const session = await createSession(node, { ttlMs: 5_000 });
  const other = await createSession(node, { ttlMs: 5_000 });
  const held = await acquireLock(node, '/rt/contended', { session: other });
  const spy = spyCalls(node);
  const waiting = acquireLock(spy.node, '/rt/contended', { session });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(counts(spy.calls), { range: 1, txn: 1, watch: 1 }, 'entry, one predecessor check, one watch');
  await held.release();
  const lock = await withTimeout(waiting, 2_000, 'hand-over');
  assert.ok(lock.fencingToken > held.fencingToken);
  await lock.release();
  await session.close();
  await other.close();
});

test('RW lock, semaphore under capacity and an uncontended campaign: one txn each', async () => {
  const session = await createSession(node, { ttlMs: 5_000 });
  const spy = spyCalls(node);
  const rw = createRWLock(spy.node, '/rt/rw');
  const read = await rw.read({ session });
  assert.equal(counts(spy.calls), { txn: 1 }, 'reader with no writer');
  await read.release();
  spy.reset();
  const write = await rw.write({ session });
  assert.equal(counts(spy.calls), { txn: 1 }, 'writer alone');
  await write.release();

  const sessions = await Promise.all([1, 2, 3].map(() => createSession(node, { ttlMs: 5_000 })));
  const sem = createSemaphore(spy.node, '/rt/sem', 3);
  const permits: Lock[] = [];
  for (const s of sessions) {
    spy.reset();
    permits.push(await sem.acquire({ session: s }));
    assert.equal(counts(spy.calls), { txn: 1 }, `permit ${permits.length} of 3`);
  }
  spy.reset();
  assert.is(await sem.tryAcquire({ session }), undefined, 'a fourth is refused');
  assert.equal(spy.calls.get('watch'), undefined, 'tryAcquire never watches');
  for (const p of permits) await p.release();

  spy.reset();
  const election = createElection<string>(spy.node, '/rt/election', { session });
  await election.campaign('me');
  assert.equal(counts(spy.calls), { txn: 1 }, 'uncontended campaign');
  await election.resign();
  for (const s of sessions) await s.close();
  await session.close();
});

test('holders on a shared session add no lost listener, yet each learns of the loss', async () => {
  const session = await createSession(node, { ttlMs: 5_000 });
  const locks = await Promise.all(Array.from({ length: 20 }, (_, i) => acquireLock(node, `/rt/many/${i}`, { session })));
  assert.is(session.listenerCount('lost'), 0);
  const lost: number[] = [];
  locks.forEach((l, i) => l.on('lost', () => lost.push(i)));
  // Released holders are not told: their claim is given back.
  await (locks[0] as Lock).release();
  await node.revokeLease(session.leaseId);
  await withTimeout(
    (async () => {
      while (lost.length < 19) await new Promise((r) => setTimeout(r, 10));
    })(),
    2_000,
    'every holder lost',
  );
  assert.equal(lost.sort((a, b) => a - b), Array.from({ length: 19 }, (_, i) => i + 1));
  assert.ok(locks.slice(1).every((l) => !l.isHeld && l.signal.aborted));
  await session.close();
});

test('a lock key resumed after a restart (same lease) keeps its place and fencing token', async () => {
  const first = await createSession(node, { ttlMs: 5_000 });
  const lock = await acquireLock(node, '/rt/resume', { session: first });
  // A "restarted" process: a new Session object on the same lease, the old key still there.
  const resumed = await createSession(node, { leaseId: first.leaseId, ttlMs: 5_000 });
  const again = await acquireLock(node, '/rt/resume', { session: resumed });
  assert.is(again.key, lockKey('/rt/resume', first.leaseId));
  assert.is(again.fencingToken, lock.fencingToken);
  assert.ok(await again.release());
  await resumed.close();
  await first.close().catch(() => undefined);
});

test('a bad lock name rejects with InvalidArgumentError, never throws synchronously', async () => {
  let pending: Promise<unknown> | undefined;
  assert.not.throws(() => {
    pending = acquireLock(node, '');
  });
  try {
    await pending;
    assert.unreachable('should reject');
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
  }
});

test.run();
