// Proves a member frees compacted history in the background (src/node/background-compaction.ts):
// after a compaction commits, the deleted keys it drops leave the indexes (the `keys` metric,
// etcd_debugging_mvcc_keys_total) without any further command, and reads below it fail at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import { op } from '../../src/node/txn-builder.ts';
import { CompactedError } from '../../src/errors.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { FAST, newStorage, quietLogger, until } from './helpers/cluster.ts';

test('history dropped by a compaction is freed with no further command', async () => {
  const node = await createNode({ id: 'n1', storage: newStorage(), logger: quietLogger, ...FAST } as NodeOptions);
  try {
    await node.ready();
    for (let i = 0; i < 1000; i += 100) await node.txn().then(...Array.from({ length: 100 }, (_, j) => op.put(`/b/${i + j}`, i + j))).commit();
    await node.delete({ prefix: '/b/1' });
    const rev = node.status().revision;
    assert.is(node.metrics().keys, 1000, 'tombstones are held until compacted');
    await node.compact(rev);
    const below = await node.range({ prefix: '/b/' }, { revision: rev - 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(below, CompactedError, 'reads below the compaction fail at once');
    await until(() => node.metrics().keys === 1000 - 111, 2_000, 'the deleted keys freed in the background');
    assert.is((await node.range({ prefix: '/b/' }, { countOnly: true })).count, 1000 - 111);
  } finally {
    await node.close();
  }
});

test('compact({ physical: true }) resolves once the history is freed', async () => {
  const node = await createNode({ id: 'n1', storage: newStorage(), logger: quietLogger, ...FAST } as NodeOptions);
  try {
    await node.ready();
    for (let i = 0; i < 2000; i += 100) await node.txn().then(...Array.from({ length: 100 }, (_, j) => op.put(`/p/${i + j}`, i + j))).commit();
    await node.delete({ prefix: '/p/' });
    await node.compact(node.status().revision, { physical: true });
    assert.is(node.metrics().keys, 0, 'freed before compact() resolved');
  } finally {
    await node.close();
  }
});

test.run();
