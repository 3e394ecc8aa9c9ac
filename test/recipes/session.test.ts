// Proves the Session recipe on a single in-process member: the keep-alive holds a lease (and its
// keys) well past its TTL, an outside revoke is reported at once as `lost` with an aborted signal,
// close() revokes the lease, and a restart can resume the same lease by id. Keep-alives that fail
// with TimeoutError/NoLeaderError (a failover) for longer than the TTL, while the lease lives on,
// never declare the session lost (a proxy node injects the failures); each keep-alive call is
// bounded by the keep-alive period; an interval that would let the lease expire is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError, LeaseNotFoundError, LockLostError, NoLeaderError, TimeoutError } from '../../src/errors.ts';
import { createSession } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';
import { eventually, sleep, startSingle, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

test('keep-alive holds the lease and its keys past several TTLs', async () => {
  const session = await createSession(node, { ttlMs: 300 });
  await node.put('/s/a', 1, { lease: session.leaseId });
  await sleep(1_000);
  assert.ok(session.isOpen);
  assert.is((await node.get('/s/a'))?.value, 1);
  await session.close();
  assert.is(await node.get('/s/a'), undefined, 'close() revokes the lease and deletes its keys');
  assert.ok(session.isClosed);
  assert.ok(session.signal.aborted);
});

test('an outside revoke is reported as lost, with the signal aborted', async () => {
  const session = await createSession(node, { ttlMs: 300 });
  const lost = new Promise<LockLostError>((resolve) => session.once('lost', resolve));
  await node.revokeLease(session.leaseId);
  const err = await withTimeout(lost, 2_000, 'lost event');
  assert.instance(err, LockLostError);
  assert.ok(session.isLost);
  assert.ok(session.signal.aborted);
  assert.instance(session.signal.reason, LockLostError);
  await session.close();
});

test('a session resumes an existing lease by id (restart)', async () => {
  const first = await createSession(node, { ttlMs: 300 });
  await node.put('/s/resume', 'x', { lease: first.leaseId });
  // Simulate a process restart: drop the handle without revoking, resume by id.
  const resumed = await createSession(node, { ttlMs: 300, leaseId: first.leaseId });
  assert.is(resumed.leaseId, first.leaseId);
  await sleep(700);
  assert.is((await node.get('/s/resume'))?.value, 'x');
  await resumed.close();
  await eventually(async () => (await node.get('/s/resume')) === undefined, 2_000, 'key gone');
  first.markLost('test cleanup');
});

test('resuming an unknown lease rejects with LeaseNotFoundError', async () => {
  try {
    await createSession(node, { leaseId: 987654321 });
    assert.unreachable('should reject');
  } catch (err) {
    assert.instance(err, LeaseNotFoundError);
  }
});

/** `node` whose keepAliveLease runs `hook` around the real call (to inject failover errors). */
function keepAliveProxy(hook: (real: () => Promise<number>, options: unknown) => Promise<number>): QuorumNode {
  return new Proxy(node, {
    get(target, prop, receiver) {
      if (prop === 'keepAliveLease') return (id: number, options?: unknown) => hook(() => target.keepAliveLease(id), options);
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('keep-alive failures during a failover never declare a live lease lost', async () => {
  let failUntil = 0;
  let flip = 0;
  const proxy = keepAliveProxy(async (real) => {
    if (Date.now() >= failUntil) return real();
    // The request may or may not reach the leader: here it does (the lease stays alive), but the
    // answer is lost, or no leader is known. Either way the session learns nothing about the lease.
    flip++;
    if (flip % 2 === 0) throw new NoLeaderError();
    await real();
    throw new TimeoutError();
  });
  const session = await createSession(proxy, { ttlMs: 300 });
  let lost = false;
  session.on('lost', () => (lost = true));
  await node.put('/s/failover', 1, { lease: session.leaseId });
  failUntil = Date.now() + 1_000; // more than three TTLs without a confirmed keep-alive
  await sleep(900);
  assert.ok(session.unconfirmedMs >= 300, `unconfirmed for ${session.unconfirmedMs} ms`);
  assert.ok(!lost, 'not lost while the lease is alive');
  assert.ok(session.isOpen);
  await sleep(400);
  assert.ok(!lost);
  assert.ok(session.unconfirmedMs < 300, 'confirmed again once keep-alives succeed');
  assert.is((await node.get('/s/failover'))?.value, 1, 'the lease and its key survived');
  // The lease really gone: reported as lost (here through a keep-alive answering LeaseNotFound).
  failUntil = 0;
  await node.revokeLease(session.leaseId);
  await eventually(() => lost, 2_000, 'lost after the lease is gone');
  await session.close();
});

test('each keep-alive call is bounded by the keep-alive period', async () => {
  const timeouts: unknown[] = [];
  const proxy = keepAliveProxy((real, options) => {
    timeouts.push((options as { timeoutMs?: number } | undefined)?.timeoutMs);
    return real();
  });
  const session = await createSession(proxy, { ttlMs: 300 });
  await eventually(() => timeouts.length >= 2, 2_000, 'two keep-alives');
  await session.close();
  assert.ok(timeouts.every((t) => typeof t === 'number' && t <= 100), `timeouts ${JSON.stringify(timeouts)}`);
});

test('a keep-alive interval that lets the lease expire is refused', async () => {
  try {
    await createSession(node, { ttlMs: 300, keepAliveIntervalMs: 300 });
    assert.unreachable('should reject');
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
  }
});

test.run();
