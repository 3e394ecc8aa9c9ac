// Proves a cluster bootstrapped from a backup (restoreFrom) hands its store to members that join
// later: the bootstrap entries do not rebuild the backup, so the restored member must send the
// snapshot, never those entries (its storage keeps no log behind that snapshot). A joining
// member then holds every backed-up key and the same revision.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { MemoryNetwork, memoryTransport } from '../../src/transport/memory-transport.ts';
import { FAST, quietLogger, until } from './helpers/cluster.ts';

test('a member joining a cluster restored from a backup gets the backup through a snapshot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-restore-join-'));
  try {
    const source = await createNode({ id: 'n1', storage: memoryStorage(), logger: quietLogger, ...FAST });
    await source.ready();
    await source.put('/b/1', 'one');
    await source.put('/b/2', 'two');
    await source.backup(join(dir, 'b.snap'));
    await source.close();

    const net = new MemoryNetwork({ seed: 1 });
    const peers = { n1: 'ws://127.0.0.1:17000' };
    const storage = memoryStorage();
    const restored = await createNode({ id: 'n1', peers, storage, transport: memoryTransport(net), restoreFrom: join(dir, 'b.snap'), logger: quietLogger, ...FAST });
    try {
      await restored.ready();
      assert.is(storage.firstIndex(), storage.snapshot().meta.index + 1, 'no log behind the restored snapshot');
      await restored.cluster.add('n2', 'ws://127.0.0.1:17001', { learner: true });
      const joined = await createNode({ id: 'n2', peers: { ...peers, n2: 'ws://127.0.0.1:17001' }, join: true, storage: memoryStorage(), transport: memoryTransport(net), logger: quietLogger, ...FAST });
      try {
        await joined.ready({ timeoutMs: 5_000 });
        await restored.put('/after', 'x');
        await until(() => joined.status().appliedIndex >= restored.status().commitIndex, 3_000, 'the joined member to catch up');
        assert.is((await joined.get('/b/2', { consistency: 'serializable' }))?.value, 'two');
        assert.is((await joined.get('/after', { consistency: 'serializable' }))?.value, 'x');
        assert.is(joined.status().revision, restored.status().revision);
      } finally {
        await joined.close();
      }
    } finally {
      await restored.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
