// Proves `node.auth` on one in-process member bounds password hashing: a burst of concurrent
// wrong-password logins is checked MAX_CONCURRENT_PASSWORD_CHECKS at a time, queued up to
// MAX_QUEUED_PASSWORD_CHECKS (each then refused with AuthFailedError) and refused beyond that with
// the retryable ProposalDroppedError ("too many requests"); an unknown user is refused like a
// wrong password; the member logs the right user in afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuthError, AuthFailedError, isRetryable, ProposalDroppedError } from '../../src/errors.ts';
import { createNode } from '../../src/create-node.ts';
import { MAX_CONCURRENT_PASSWORD_CHECKS, MAX_QUEUED_PASSWORD_CHECKS } from '../../src/node/auth/limits.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';

test('password checks are bounded; refusals are typed', async () => {
  const node = await createNode({ id: 'aa', storage: memoryStorage(), electionTimeoutMs: 300, heartbeatMs: 30 });
  try {
    await node.ready();
    try {
      await node.auth.authenticate('root', 'x');
      assert.unreachable('authenticate with auth disabled');
    } catch (err) {
      assert.is((err as AuthError).reason, 'notEnabled');
    }
    await node.auth.addUser('root', 'rootpw');
    await node.auth.grantRole('root', 'root');
    await node.auth.enable();
    const burst = MAX_CONCURRENT_PASSWORD_CHECKS + MAX_QUEUED_PASSWORD_CHECKS + 20;
    const results = await Promise.allSettled(Array.from({ length: burst }, (_, i) => node.auth.authenticate(i % 2 === 0 ? 'root' : 'ghost', 'wrong')));
    const reasons = results.map((r) => (r.status === 'rejected' ? r.reason : undefined));
    const failed = reasons.filter((e) => e instanceof AuthFailedError).length;
    const dropped = reasons.filter((e) => e instanceof ProposalDroppedError && isRetryable(e)).length;
    assert.is(failed + dropped, burst, 'every login refused, with a typed error');
    assert.is(failed, MAX_CONCURRENT_PASSWORD_CHECKS + MAX_QUEUED_PASSWORD_CHECKS, 'checked or queued up to the bounds');
    assert.is(dropped, 20, 'beyond the queue');
    const token = await node.auth.authenticate('root', 'rootpw');
    assert.equal(node.auth.identify(token), { kind: 'user', name: 'root' });
  } finally {
    await node.close();
  }
});

test.run();
