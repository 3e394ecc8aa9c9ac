// Proves auth is replicated state on a real in-process cluster (3 members, MemoryNetwork, memory
// storage): users and roles made through one member are read and enforced on the others, tokens
// stay with the member that issued them (and die with a password change or auth disable), a write
// checked at an older auth revision is refused at apply, and a
// member restarted far behind gets users, roles and the enabled flag from a snapshot install.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuthError, PermissionDeniedError, UnauthenticatedError } from '../../src/errors.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { startCluster, until } from './helpers/cluster.ts';

const b = (s: string): Uint8Array => Buffer.from(s);
const throws = (fn: () => unknown, type: new (...args: never[]) => Error, what: string): void => {
  try {
    fn();
  } catch (err) {
    assert.instance(err, type, what);
    return;
  }
  assert.unreachable(`${what} should throw`);
};

test('made on one member, enforced everywhere; tokens per member; restored by snapshot', async () => {
  const options = { snapshotEvery: 20, snapshotCatchUpEntries: 5 };
  const c = await startCluster(3, options);
  try {
    await Promise.all([...c.nodes.values()].map((n) => n.ready({ timeoutMs: 5_000 })));
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => c.nodes.get(id)!) as [QuorumNode, QuorumNode, QuorumNode];
    await n1.auth.addUser('root', 'rootpw');
    await n2.auth.grantRole('root', 'root');
    await n3.auth.addUser('u', 'upw');
    await n1.auth.addRole('r');
    await n2.auth.grantPermission('r', { type: 'readwrite', key: b('app/'), rangeEnd: b('app0') });
    await n3.auth.grantRole('u', 'r');
    await n1.auth.enable();
    for (const n of [n1, n2, n3]) {
      assert.equal((await n.auth.getUser('u')).roles, ['r'], `user on ${n.id}`);
      assert.equal(await n.auth.listUsers(), ['root', 'u']);
    }
    await until(() => n2.auth.enabled && n3.auth.enabled, 2_000, 'enabled everywhere');
    const token = await n2.auth.authenticate('u', 'upw');
    const who = n2.auth.identify(token);
    n2.auth.requireKeys(who, 'write', b('app/x'));
    throws(() => n2.auth.requireKeys(who, 'read', b('other')), PermissionDeniedError, 'outside the permissions');
    throws(() => n2.auth.requireRoot(who), PermissionDeniedError, 'not root');
    throws(() => n1.auth.identify(token), UnauthenticatedError, 'a token of another member');
    // A write checked at an older auth revision is refused at apply, on whichever member it is sent to.
    const checkedAt = n2.auth.revision;
    await n1.auth.addRole('other');
    await until(() => n3.auth.revision > checkedAt, 2_000, 'the change applied on n3');
    try {
      await n3.put('app/raced', 1, { authRevision: checkedAt });
      assert.unreachable('a write checked before an auth change');
    } catch (err) {
      assert.instance(err, AuthError);
      assert.is((err as AuthError).reason, 'oldRevision');
    }
    assert.is(await n1.get('app/raced'), undefined);
    await n3.put('app/fresh', 1, { authRevision: n3.auth.revision });
    throws(() => n1.auth.requireKeys(n1.auth.identify(undefined), 'read', b('app/x')), PermissionDeniedError, 'no token');

    // n3 goes away; auth changes and enough writes to compact the log happen without it.
    await n3.close();
    c.nodes.delete('n3');
    await n1.auth.addUser('late', 'latepw');
    await n1.auth.changePassword('u', 'newpw');
    for (let i = 0; i < 60; i++) await n1.put(`/fill/${i}`, i);
    const leader = c.leader()!;
    await until(() => (c.storages.get(leader.id)?.firstIndex() ?? 0) > 10, 2_000, 'leader log compaction');
    throws(() => n2.auth.identify(token), UnauthenticatedError, 'a token after a password change');
    const back = await c.start('n3', options);
    await back.ready({ timeoutMs: 5_000 });
    assert.ok((c.storages.get('n3')?.snapshot().meta.index ?? 0) > 10, 'n3 installed a snapshot');
    assert.ok(back.auth.enabled, 'the enabled flag came with the snapshot');
    assert.equal(await back.auth.listUsers(), ['late', 'root', 'u']);
    const again = await back.auth.authenticate('u', 'newpw');
    back.auth.requireKeys(back.auth.identify(again), 'write', b('app/y'));
    assert.is(back.auth.revision, n1.auth.revision);
    await n1.auth.disable();
    await until(() => !back.auth.enabled && !n2.auth.enabled, 2_000, 'disabled everywhere');
    assert.equal(n2.auth.identify('garbage'), { kind: 'open' }, 'auth disabled: everyone is open');
    n2.auth.requireKeys({ kind: 'anonymous' }, 'read', b('x'));
  } finally {
    await c.closeAll();
  }
});

test.run();
