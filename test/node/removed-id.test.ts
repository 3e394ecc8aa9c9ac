// Proves that a member id removed from the cluster can never be added again (etcd's IsIDRemoved;
// simulator finding F2): `cluster.add` of a removed id rejects with MemberRemovedError on the
// leader and on followers, as a voter or a learner, while new ids still join; and the set of
// removed ids is replicated state that survives a restart from a snapshot taken after the
// removal (the log holding the removal is compacted away). In-process: 3 members on a
// MemoryNetwork with memory storage and 20 ms heartbeats; plus a unit check of the snapshot form.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemberRemovedError, QuorumError } from '../../src/errors.ts';
import { Membership, REMOVED_IDS_KEY } from '../../src/node/membership.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { MAX_NODE_ID_BYTES } from '../../src/protocol/types.ts';
import { startCluster, until } from './helpers/cluster.ts';

async function addError(node: QuorumNode, id: string, learner: boolean): Promise<unknown> {
  return node.cluster.add(id, 'ws://127.0.0.1:17999', { learner, timeoutMs: 2_000 }).then(
    () => undefined,
    (err: unknown) => err,
  );
}

test('Membership: removed ids travel in the snapshot record under a key no member id can be', () => {
  assert.ok(Buffer.byteLength(REMOVED_IDS_KEY) > MAX_NODE_ID_BYTES);
  const m = new Membership({ n1: 'ws://a:1', n2: 'ws://b:2', n3: 'ws://c:3' });
  m.delete('n3');
  assert.ok(m.isRemoved('n3'));
  assert.not.ok(m.isRemoved('n2'));
  assert.equal(m.urls(), { n1: 'ws://a:1', n2: 'ws://b:2' }, 'the driver never sees the removed-ids key');
  const restored = new Membership();
  restored.reset(m.toRecord());
  assert.ok(restored.isRemoved('n3'));
  assert.equal(restored.urls(), m.urls());
  assert.equal(restored.toRecord(), m.toRecord(), 'same state, same snapshot record');
  // An older snapshot without the key has no removed ids.
  restored.reset({ n1: 'ws://a:1' });
  assert.not.ok(restored.isRemoved('n3'));
});

test('a removed id is refused by cluster.add everywhere, also after a restart from a snapshot', async () => {
  const opts = { snapshotEvery: 20 };
  const c = await startCluster(3, opts);
  try {
    await Promise.all([...c.nodes.values()].map((node) => node.ready({ timeoutMs: 5_000 })));
    const leader = await c.waitLeader();
    const [victim, witness] = [...c.nodes.values()].filter((n) => n !== leader);
    assert.ok(victim !== undefined && witness !== undefined);
    const victimId = victim.id;
    await leader.cluster.remove(victimId);
    const removalIndex = leader.status().appliedIndex;
    await victim.close();
    c.nodes.delete(victimId);

    // The leader and a follower (which forwards) both refuse, as a voter and as a learner.
    await until(() => witness.status().appliedIndex >= removalIndex, 2_000, 'the follower to apply the removal');
    for (const [node, learner] of [[leader, false], [leader, true], [witness, false], [witness, true]] as const) {
      const err = await addError(node, victimId, learner);
      assert.instance(err, MemberRemovedError, `${node.id} learner=${learner}: ${String(err)}`);
      assert.is((err as QuorumError).code, 'MEMBER_REMOVED');
    }
    // A new id still joins (as a learner, so the quorum does not depend on it running).
    await leader.cluster.add('n9', 'ws://127.0.0.1:17998', { learner: true });
    assert.ok((await leader.cluster.members()).some((m) => m.id === 'n9'));

    // Snapshot past the removal and compact the log, then restart the follower: it can only
    // learn the removed id from the snapshot.
    for (let i = 0; i < 45; i++) await leader.put(`/fill/${i}`, i);
    const storage = c.storages.get(witness.id);
    await until(() => (storage?.firstIndex() ?? 0) > removalIndex + 1, 3_000, 'the follower to compact past the removal');
    await witness.close();
    c.nodes.delete(witness.id);
    const back = await c.start(witness.id, opts);
    await back.ready({ timeoutMs: 5_000 });
    assert.ok((c.storages.get(witness.id)?.snapshot().meta.index ?? 0) > removalIndex, 'restarted from a snapshot past the removal');
    const err = await addError(back, victimId, true);
    assert.instance(err, MemberRemovedError, String(err));
  } finally {
    await c.closeAll();
  }
});

test.run();
