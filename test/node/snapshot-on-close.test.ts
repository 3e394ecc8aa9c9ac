// Proves close() writes a snapshot of the final state when the log since the last snapshot is
// large (PeriodicSnapshots.snapshotOnClose): the next open finds no log after the snapshot, so
// start replays nothing, and every write is there. A small log is left to the WAL (no snapshot
// per close). A sole voter restarted with nothing to replay campaigns at once (no election
// timeout before its first read).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../../src/create-node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { CLOSE_SNAPSHOT_MIN_BYTES } from '../../src/node/periodic-snapshots.ts';
import { fileStorage } from '../../src/storage/file-storage.ts';
import { FAST, quietLogger } from './helpers/cluster.ts';

const VALUE = 'v'.repeat(64 * 1024);

async function writeAndClose(dir: string, puts: number): Promise<number> {
  // 1 MiB segments: the log written spans several.
  const node = await createNode({ id: 'n1', storage: fileStorage(dir, { logger: quietLogger, segmentBytes: 1 << 20 }), logger: quietLogger, ...FAST } as NodeOptions);
  try {
    await node.ready();
    for (let i = 0; i < puts; i += 8) await Promise.all(Array.from({ length: Math.min(8, puts - i) }, (_, k) => node.put(`/c/${i + k}`, VALUE)));
    return node.status().appliedIndex;
  } finally {
    await node.close();
  }
}

async function reopened(dir: string): Promise<{ snapshotIndex: number; lastIndex: number }> {
  const storage = fileStorage(dir, { logger: quietLogger });
  await storage.open();
  try {
    return { snapshotIndex: storage.snapshot().meta.index, lastIndex: storage.lastIndex() };
  } finally {
    await storage.close();
  }
}

test('a large log since the last snapshot: close() writes one, the next start replays nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-close-snap-'));
  try {
    const puts = Math.ceil((CLOSE_SNAPSHOT_MIN_BYTES * 1.25) / VALUE.length);
    const applied = await writeAndClose(dir, puts);
    const after = await reopened(dir);
    assert.is(after.snapshotIndex, applied, 'the snapshot is at the final applied index');
    assert.is(after.lastIndex, applied, 'no log after it to replay');
    const segments = readdirSync(dir).filter((n) => n.endsWith('.wal'));
    assert.is(segments.length, 1, `the segments behind the snapshot are deleted (${segments.join(', ')})`);
    // A long election timeout: with nothing to replay, the sole voter must campaign at once.
    const node = await createNode({ id: 'n1', storage: fileStorage(dir, { logger: quietLogger }), logger: quietLogger, electionTimeoutMs: 5_000, heartbeatMs: 500 } as NodeOptions);
    try {
      const t0 = performance.now();
      await node.ready();
      const readyMs = performance.now() - t0;
      assert.ok(readyMs < 2_000, `leader after ${readyMs.toFixed(0)} ms, not after an election timeout`);
      const r = await node.range({ prefix: '/c/' }, { countOnly: true });
      assert.is(r.count, puts, 'every write is there');
    } finally {
      await node.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a small log is left to the WAL: no snapshot per close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-close-snap-'));
  try {
    const applied = await writeAndClose(dir, 8);
    const after = await reopened(dir);
    assert.ok(after.snapshotIndex < applied, `no snapshot at the final index (${after.snapshotIndex} < ${applied})`);
    assert.is(after.lastIndex, applied);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
