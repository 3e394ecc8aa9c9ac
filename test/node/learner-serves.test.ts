// Proves a learner serves the same API as a voter (issue #20's "learners serve reads and
// writes"): linearizable reads through ReadIndex at the leader — a write acknowledged anywhere is
// seen by the learner's next linearizable read, never a stale value, and a learner cut off from
// the leader answers none — serializable reads from its own state, and writes forwarded to the leader; and it never counts in a quorum: with both other
// voters of a 3-voter cluster down, a write through the learner does not commit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryTransport } from '../../src/transport/memory-transport.ts';
import { FAST, newStorage, quietLogger, startCluster } from './helpers/cluster.ts';

test('a learner reads linearizably, writes through the leader, and never makes a quorum', async () => {
  const c = await startCluster(3);
  let learner: QuorumNode | undefined;
  try {
    const leader = await c.waitLeader();
    await leader.put('/l/a', 1);
    const url = 'ws://127.0.0.1:17009';
    await leader.cluster.add('n9', url, { learner: true });
    learner = await createNode({ id: 'n9', peers: { ...c.peers, n9: url }, join: true, storage: newStorage(), transport: memoryTransport(c.net), logger: quietLogger, ...FAST });
    await learner.ready({ timeoutMs: 5_000 });
    assert.ok(learner.status().members.find((m) => m.id === 'n9')?.learner, 'n9 is a learner');

    for (let i = 0; i < 50; i++) {
      // Acknowledged by the leader, then read at once on the learner: linearizable means never stale.
      await leader.put('/l/seq', i);
      assert.is((await learner.get('/l/seq'))?.value, i, `linearizable read ${i} on the learner`);
      // A write through the learner, read back on the leader.
      const w = await learner.put('/l/from-learner', i);
      assert.is((await leader.get('/l/from-learner'))?.value, i, `write ${i} forwarded by the learner`);
      assert.ok(w.revision > 0);
    }
    const serial = await learner.range({ prefix: '/l/' }, { consistency: 'serializable' });
    assert.ok(serial.count >= 2, 'serializable reads from its own state');

    // Cut off from everyone, the learner answers a serializable read from its (now stale) state
    // but no linearizable one: that needs the leader's read index.
    c.net.isolate('n9');
    await leader.put('/l/seq', 'after the cut');
    assert.is((await learner.get('/l/seq', { consistency: 'serializable' }))?.value, 49, 'its own state, stale');
    const linearizable = await learner.get('/l/seq', { timeoutMs: 500 }).then(
      (kv) => kv?.value,
      (e: unknown) => (e as { code?: string }).code ?? String(e),
    );
    assert.is.not(linearizable, 49, 'never a stale linearizable read');
    assert.is.not(linearizable, 'after the cut', 'no answer without the leader');
    c.net.heal();
    assert.is((await learner.get('/l/seq', { timeoutMs: 3_000 }))?.value, 'after the cut', 'answered again once healed');

    // The learner is no voter: with the two other voters stopped, nothing commits through it.
    const others = [...c.nodes.values()].filter((n) => n !== leader);
    await Promise.all(others.map((n) => n.close()));
    const stuck = await learner.put('/l/no-quorum', 1, { timeoutMs: 600 }).then(
      () => 'committed',
      (e: unknown) => (e as { code?: string }).code ?? String(e),
    );
    assert.is.not(stuck, 'committed', 'a learner and one voter are no quorum of 3 voters');
  } finally {
    await learner?.close().catch(() => {});
    await c.closeAll();
  }
});

test.run();
