// Proves the Session recipe on a single in-process member: the keep-alive holds a lease (and its
// keys) well past its TTL, an outside revoke is reported at once as `lost` with an aborted signal,
// close() revokes the lease, and a restart can resume the same lease by id.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LeaseNotFoundError, LockLostError } from '../../src/errors.ts';
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

test.run();
