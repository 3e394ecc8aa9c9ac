// Proves the Lock recipe on a single in-process member: FIFO hand-over with strictly increasing
// fencing tokens, each waiter watching only its predecessor (a spy records every watch), tryLock,
// timeout/abort leaving no key behind, a stale release never deleting a newer holder's key
// (etcd #22082), session loss while waiting/holding (etcd #11456), `cmp.owns` fencing, and
// `await using`. Also the RW lock and the counting semaphore.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortedError, InvalidArgumentError, LockLostError, TimeoutError } from '../../src/errors.ts';
import { acquireLock, cmp, createRWLock, createSemaphore, createSession, lockKey, op, tryLock } from '../../src/index.ts';
import type { Lock, QuorumNode } from '../../src/index.ts';
import { sleep, spyWatches, startSingle, withSlowGrant, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

async function keysUnder(prefix: string): Promise<string[]> {
  return (await node.range({ prefix }, { keysOnly: true })).kvs.map((kv) => kv.key);
}

test('uncontended acquire: key, token = create revision, release deletes the key', async () => {
  const lock = await acquireLock(node, '/locks/a', { ttlMs: 1_000 });
  assert.is(lock.key, lockKey('/locks/a', lock.session.leaseId));
  const kv = await node.get(lock.key);
  assert.is(kv?.createRevision, lock.fencingToken);
  assert.is(lock.createRevision, lock.fencingToken);
  assert.ok(lock.isHeld);
  assert.ok(await lock.release());
  assert.equal(await keysUnder('/locks/a/'), []);
  assert.ok(!lock.isHeld);
  assert.is(await lock.release(), false, 'release is idempotent');
});

test('FIFO hand-over, strictly increasing tokens, each waiter watches only its predecessor', async () => {
  const spy = spyWatches(node);
  const first = await acquireLock(spy.node, '/locks/fifo', { ttlMs: 1_000 });
  const order: number[] = [];
  const waiters: Promise<Lock>[] = [];
  for (let i = 0; i < 4; i++) {
    waiters.push(
      acquireLock(spy.node, '/locks/fifo', { ttlMs: 1_000 }).then((l) => {
        order.push(i);
        return l;
      }),
    );
    await sleep(30); // queue them in a known order
  }
  const line = await node.range({ prefix: '/locks/fifo/' }, { sort: { by: 'createRevision', order: 'asc' } });
  assert.is(line.kvs.length, 5);
  // Waiter i watched exactly the key just before its own.
  const watchedKeys = spy.watched.map((w) => (JSON.parse(w) as { key?: string }).key);
  for (let i = 1; i < line.kvs.length; i++) assert.ok(watchedKeys.includes(line.kvs[i - 1]?.key), `waiter ${i} watches its predecessor`);
  assert.is(spy.watched.length, 4, 'one watch per waiter, none on the prefix');
  const tokens = [first.fencingToken];
  await first.release();
  for (let i = 0; i < 4; i++) {
    const l = await withTimeout(waiters[i] as Promise<Lock>, 3_000, `waiter ${i}`);
    tokens.push(l.fencingToken);
    await l.release();
  }
  assert.equal(order, [0, 1, 2, 3]);
  for (let i = 1; i < tokens.length; i++) assert.ok((tokens[i] as number) > (tokens[i - 1] as number), 'tokens strictly increase');
});

test('tryLock: undefined while held, and leaves no key behind', async () => {
  const held = await acquireLock(node, '/locks/try', { ttlMs: 1_000 });
  assert.is(await tryLock(node, '/locks/try', { ttlMs: 1_000 }), undefined);
  assert.equal(await keysUnder('/locks/try/'), [held.key]);
  await held.release();
  const got = await tryLock(node, '/locks/try', { ttlMs: 1_000 });
  assert.ok(got?.isHeld);
  await got?.release();
});

test('timeoutMs and signal: typed rejection, the waiter leaves the line', async () => {
  const held = await acquireLock(node, '/locks/wait', { ttlMs: 1_000 });
  try {
    await acquireLock(node, '/locks/wait', { ttlMs: 1_000, timeoutMs: 100 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, TimeoutError);
  }
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  try {
    await acquireLock(node, '/locks/wait', { ttlMs: 1_000, signal: controller.signal });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, AbortedError);
  }
  assert.equal(await keysUnder('/locks/wait/'), [held.key]);
  await held.release();
});

test('a stale release never deletes a newer holder key (etcd #22082)', async () => {
  const session = await createSession(node, { ttlMs: 1_000 });
  const old = await acquireLock(node, '/locks/stale', { session });
  const staleCopy = { key: old.key, createRevision: old.createRevision };
  await old.release();
  const fresh = await acquireLock(node, '/locks/stale', { session });
  assert.is(fresh.key, staleCopy.key, 'same session ⇒ same key name');
  assert.ok(fresh.createRevision > staleCopy.createRevision);
  // A late retry of the old release, as a txn guarded by the old create revision: no effect.
  const res = await node.txn().if(cmp.owns(staleCopy)).then(op.delete(staleCopy.key)).commit();
  assert.is(res.succeeded, false);
  assert.is(await old.release(), false);
  assert.is((await node.get(fresh.key))?.createRevision, fresh.createRevision);
  await fresh.release();
  await session.close();
});

test('cmp.owns(lock) fences writes; session loss emits lost and fails the fence', async () => {
  const lock = await acquireLock(node, '/locks/fence', { ttlMs: 1_000 });
  const ok = await node.txn().if(cmp.owns(lock)).then(op.put('/resource', 'by holder')).commit();
  assert.ok(ok.succeeded);
  const lost = new Promise<LockLostError>((resolve) => lock.once('lost', resolve));
  await node.revokeLease(lock.session.leaseId); // the lease "expires" under the holder
  assert.instance(await withTimeout(lost, 2_000, 'lost'), LockLostError);
  assert.ok(lock.signal.aborted);
  const stale = await node.txn().if(cmp.owns(lock)).then(op.put('/resource', 'stale')).commit();
  assert.is(stale.succeeded, false, 'a stale holder write is rejected');
  assert.is((await node.get('/resource'))?.value, 'by holder');
  await lock.release();
});

test('losing the session while waiting rejects with LockLostError (never owner on a dead lease)', async () => {
  const held = await acquireLock(node, '/locks/lost-wait', { ttlMs: 1_000 });
  const session = await createSession(node, { ttlMs: 1_000 });
  const waiting = acquireLock(node, '/locks/lost-wait', { session });
  await sleep(50);
  await node.revokeLease(session.leaseId);
  try {
    await withTimeout(waiting, 2_000, 'waiter');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, LockLostError);
  }
  await held.release();
  assert.equal(await keysUnder('/locks/lost-wait/'), []);
});

test('one session cannot queue twice on the same lock', async () => {
  const session = await createSession(node, { ttlMs: 1_000 });
  const a = await acquireLock(node, '/locks/twice', { session });
  try {
    await acquireLock(node, '/locks/twice', { session });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
  }
  // The refused second acquire must not have touched the first one's key (same name, same lease).
  assert.is((await node.get(a.key))?.createRevision, a.createRevision, 'the holder still holds');
  assert.ok(await a.release(), 'release deletes the still-held key');
  await session.close();
});

test('await using releases the lock at scope exit', async () => {
  let key = '';
  {
    await using lock = await acquireLock(node, '/locks/using', { ttlMs: 1_000 });
    key = lock.key;
    assert.ok(await node.get(key));
  }
  assert.is(await node.get(key), undefined);
});

test('RW lock: readers share, a writer excludes and is not starved', async () => {
  const rw = createRWLock(node, '/locks/rw', { ttlMs: 1_000 });
  const r1 = await rw.read();
  const r2 = await withTimeout(rw.read(), 1_000, 'second reader shares');
  let writerIn = false;
  const writer = rw.write().then((w) => {
    writerIn = true;
    return w;
  });
  await sleep(50);
  assert.ok(!writerIn, 'writer waits for readers');
  let lateReaderIn = false;
  const lateReader = rw.read().then((r) => {
    lateReaderIn = true;
    return r;
  });
  await sleep(50);
  assert.ok(!lateReaderIn, 'a reader behind a waiting writer waits (no writer starvation)');
  assert.is(await rw.tryWrite(), undefined);
  await r1.release();
  await r2.release();
  const w = await withTimeout(writer, 1_000, 'writer');
  await sleep(30);
  assert.ok(!lateReaderIn);
  await w.release();
  const r3 = await withTimeout(lateReader, 1_000, 'late reader');
  await r3.release();
});

test('semaphore: at most N holders, FIFO admission', async () => {
  const sem = createSemaphore(node, '/sem/pool', 2, { ttlMs: 1_000 });
  const a = await sem.acquire();
  const b = await sem.acquire();
  assert.is(await sem.available(), 0);
  assert.is(await sem.tryAcquire(), undefined);
  let cIn = false;
  const c = sem.acquire().then((p) => {
    cIn = true;
    return p;
  });
  await sleep(50);
  assert.ok(!cIn);
  await b.release();
  const cp = await withTimeout(c, 1_000, 'third permit');
  assert.is(await sem.available(), 0);
  await a.release();
  await cp.release();
  assert.is(await sem.available(), 2);
});

test('semaphore: a waiter owed a permit is admitted although newer waiters queue behind it', async () => {
  // Regression: the permit check counted every key under the prefix (a range's `count` ignores the
  // create-revision filter), so waiters behind C made C wait for a permit that was already free.
  const sem = createSemaphore(node, '/sem/owed', 2, { ttlMs: 1_000 });
  const a = await sem.acquire();
  const b = await sem.acquire();
  const c = sem.acquire();
  await sleep(30);
  const d = sem.acquire();
  await sleep(30);
  await a.release();
  const cp = await withTimeout(c, 1_000, 'C gets the permit A gave back while B still holds');
  let dIn = false;
  void d.then(() => (dIn = true));
  await sleep(50);
  assert.ok(!dIn, 'D still waits: B and C hold both permits');
  await b.release();
  const dp = await withTimeout(d, 1_000, 'D after B');
  await cp.release();
  await dp.release();
  assert.is(await sem.available(), 2);
});

test('a timeout that fires during a turn check still rejects with TimeoutError, and leaves the line', async () => {
  // The node rejects an aborted read with a plain AbortedError; the recipe must report the reason
  // it aborted for (here timeoutMs). The proxy makes every read slower than the timeout.
  const slow = new Proxy(node, {
    get(target, prop, receiver) {
      if (prop === 'range') {
        return async (range: unknown, options?: unknown) => {
          await sleep(300);
          return (target.range as (r: unknown, o?: unknown) => Promise<unknown>).call(target, range, options);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const held = await acquireLock(node, '/locks/slow-check', { ttlMs: 1_000 });
  try {
    await acquireLock(slow, '/locks/slow-check', { ttlMs: 1_000, timeoutMs: 100 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, TimeoutError);
  }
  assert.equal(await keysUnder('/locks/slow-check/'), [held.key]);
  await held.release();
});

test('a waiter that gives up leaves the line even if its first deletes meet a failover', async () => {
  // On a shared session nothing else removes a waiter's key: a single failed delete would leave an
  // orphan that blocks the line until the session ends. The proxy lets the entry txn through, then
  // fails the next two txns with TimeoutError (not applied), as a leader change would.
  let commits = 0;
  const flaky = new Proxy(node, {
    get(target, prop, receiver) {
      if (prop === 'txn') {
        return () => {
          const builder = target.txn();
          const wrapped: unknown = new Proxy(builder, {
            get(b, p, r) {
              if (p === 'commit') {
                return async (options?: unknown) => {
                  commits++;
                  if (commits === 2 || commits === 3) throw new TimeoutError();
                  return (b.commit as (o?: unknown) => Promise<unknown>).call(b, options);
                };
              }
              const v: unknown = Reflect.get(b, p, r);
              return typeof v === 'function' ? (...a: unknown[]) => ((v as (...x: unknown[]) => unknown).apply(b, a), wrapped) : v;
            },
          });
          return wrapped;
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const held = await acquireLock(node, '/locks/orphan', { ttlMs: 1_000 });
  const session = await createSession(node, { ttlMs: 1_000 });
  try {
    await acquireLock(flaky, '/locks/orphan', { session, timeoutMs: 100 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, TimeoutError);
  }
  assert.ok(commits >= 4, `the leave was retried (${commits} txns)`);
  assert.equal(await keysUnder('/locks/orphan/'), [held.key], 'no orphan waiter key');
  await held.release();
  await session.close();
});

test('a waiter whose predecessor gives up re-checks: it keeps waiting for the real holder', async () => {
  // W2 watches W1 only. W1 times out and deletes its key: W2 wakes, but the holder is still there,
  // so W2 must re-check, watch the holder now, and take the lock only after the holder releases.
  const spy = spyWatches(node);
  const held = await acquireLock(node, '/locks/giveup', { ttlMs: 1_000 });
  const w1 = acquireLock(node, '/locks/giveup', { ttlMs: 1_000, timeoutMs: 150 });
  await sleep(30);
  let w2In = false;
  const w2 = acquireLock(spy.node, '/locks/giveup', { ttlMs: 1_000 }).then((l) => {
    w2In = true;
    return l;
  });
  try {
    await w1;
    assert.unreachable();
  } catch (err) {
    assert.instance(err, TimeoutError);
  }
  await sleep(100);
  assert.ok(!w2In, 'W2 does not take a lock that is still held');
  assert.ok(spy.watched.some((w) => w.includes(held.key)), 'W2 now watches the holder');
  await held.release();
  const l2 = await withTimeout(w2, 1_000, 'W2 after the holder');
  assert.ok(l2.fencingToken > held.fencingToken);
  await l2.release();
});

test('timeoutMs also bounds granting the lock session', async () => {
  // With no leader the grant would last the node's own request timeout; the proxy makes it slow.
  const slowGrant = withSlowGrant(node, 400);
  const startedAt = Date.now();
  try {
    await acquireLock(slowGrant, '/locks/slow-grant', { ttlMs: 1_000, timeoutMs: 100 });
    assert.unreachable('acquired after its timeout');
  } catch (err) {
    assert.instance(err, TimeoutError);
  }
  assert.ok(Date.now() - startedAt < 350, `rejected after ${Date.now() - startedAt} ms`);
  await sleep(400);
  assert.equal(await keysUnder('/locks/slow-grant/'), []);
});

test.run();
