// Proves the driver's periodic snapshot runs in the background (AppliedState.view + the store's
// encodeAsync): with writes streaming in, the snapshot on disk is exactly the state at its
// recorded index (its store restores to a prefix of the writes, in order) and restart recovers
// everything; closing while a large snapshot is being encoded returns promptly and loses nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import { decodeAppSnapshot } from '../../src/node/codec.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { Store } from '../../src/store/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import { FAST, newStorage, quietLogger, until } from './helpers/cluster.ts';

async function single(extra: Partial<NodeOptions>, storage: Storage): Promise<QuorumNode> {
  const node = await createNode({ id: 'n1', storage, logger: quietLogger, ...FAST, ...extra } as NodeOptions);
  await node.ready();
  return node;
}

test('snapshot taken while writes continue is the state at its index; restart recovers all', async () => {
  const storage = newStorage();
  const node = await single({ snapshotEvery: 50 }, storage);
  const N = 300;
  try {
    const puts: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) puts.push(node.put(`/s/${String(i).padStart(6, '0')}`, i));
    await Promise.all(puts);
    await until(() => storage.snapshot().meta.index > 0, 2000, 'snapshot');
  } catch (err) {
    await node.close();
    throw err;
  }
  const snap = storage.snapshot();
  const app = decodeAppSnapshot(snap.data);
  const store = Store.restore(app.store);
  const r = store.range({ prefix: '/s/' });
  // Proposed in order, so revision k wrote key k-1: the snapshot holds exactly a prefix.
  assert.is(r.count, store.revision);
  assert.ok(snap.meta.index <= node.status().appliedIndex);
  // snapshotCatchUpEntries defaults to min(5_000, snapshotEvery): 50 entries stay behind it.
  await until(() => storage.firstIndex() > 1, 2000, 'compaction');
  assert.ok(storage.firstIndex() >= storage.snapshot().meta.index + 1 - 50, 'compacted to the catch-up window behind the snapshot');
  await node.close();
  const again = await single({ snapshotEvery: 50 }, storage.crash());
  try {
    assert.is((await again.range({ prefix: '/s/' }, { countOnly: true })).count, N);
  } finally {
    await again.close();
  }
});

test('close() during an in-flight snapshot encode returns promptly and loses nothing', async () => {
  const storage = newStorage();
  const N = 400;
  const node = await single({ snapshotEvery: N }, storage);
  const big = 'x'.repeat(200);
  const puts: Promise<unknown>[] = [];
  for (let i = 0; i < N + 10; i++) puts.push(node.put(`/b/${i}`, big));
  await Promise.all(puts);
  const t0 = performance.now();
  await node.close();
  assert.ok(performance.now() - t0 < 3000, 'close bounded');
  const again = await single({ snapshotEvery: N }, storage.crash());
  try {
    assert.is((await again.range({ prefix: '/b/' }, { countOnly: true })).count, N + 10);
  } finally {
    await again.close();
  }
});

test.run();
