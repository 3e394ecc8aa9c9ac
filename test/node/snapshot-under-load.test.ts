// Proves periodic snapshots are taken while the driver loop is never idle: a single member on
// file storage under a continuous write load (16 txns of 64 puts always in flight, so a Ready is always
// waiting) snapshots every `snapshotEvery` entries and compacts its WAL. The loop used to check
// for a due snapshot only once no Ready was left, which a busy member never reaches: it kept its
// whole log in memory and replayed all of it at restart. Fails with that check moved back.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import { op } from '../../src/node/txn-builder.ts';
import { fileStorage } from '../../src/storage/file-storage.ts';
import { listSegments } from '../../src/storage/wal.ts';
import { FAST, quietLogger } from './helpers/cluster.ts';

test('a member that always has a Ready waiting still snapshots and compacts its WAL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-busy-'));
  const storage = await fileStorage(dir, { segmentBytes: 64 * 1024 });
  const node = await createNode({ id: 'n1', storage, logger: quietLogger, ...FAST, snapshotEvery: 60, snapshotCatchUpEntries: 0 });
  try {
    await node.ready();
    const value = new Uint8Array(256).fill(1);
    let written = 0;
    const snapshotIndexes = new Set<number>();
    let maxSegments = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          const ops = Array.from({ length: 64 }, (_, j) => op.put(`k/${w}/${i}/${j}`, value));
          await node.txn().then(...ops).commit();
          written++;
          snapshotIndexes.add(storage.snapshot().meta.index);
          maxSegments = Math.max(maxSegments, listSegments(readdirSync(dir)).length);
        }
      }),
    );
    const seen = [...snapshotIndexes].filter((i) => i > 0);
    assert.is(written, 640);
    // 2,560 entries at one snapshot per 200: several snapshots were taken while writes went on.
    assert.ok(seen.length >= 5, `snapshots taken during the load: ${seen.length} (${seen.join(', ')})`);
    assert.ok(maxSegments < 20, `WAL segments stayed bounded: at most ${maxSegments} of 64 KiB for ~700 KiB written`);
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
