// Proves driver-loop properties the API tests do not reach: the log is really compacted after
// snapshots (file storage: first index advances, old entries unreadable, WAL segment files stay
// bounded) while a member far behind still catches up by snapshot; a tight `await put()` loop on
// memory storage never starves timers (ticks, lease expiry, the caller's own setTimeout);
// `status()` after `close()` is the last status, synchronously; a watch with both a listener and
// an idle iterator is cancelled as slow instead of buffering without bound; a failed Raft
// invariant while stepping a message stops the member instead of being swallowed; and a lease
// revoked while a member was behind fires `expired` there when the snapshot replaces its store.
// Real Raft core, store and driver; members share a MemoryNetwork; file storage lives in a temp
// directory. Each test fails with the corresponding driver fix reverted.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StoppedError, WatchCancelledError } from '../../src/errors.ts';
import { createNode } from '../../src/create-node.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { AssertionError } from '../../src/raft/assert.ts';
import { LogCompactedError } from '../../src/raft/types.ts';
import { fileStorage } from '../../src/storage/file-storage.ts';
import type { Storage } from '../../src/storage/types.ts';
import { listSegments } from '../../src/storage/wal.ts';
import { MemoryNetwork, memoryTransport } from '../../src/transport/memory-transport.ts';
import { FAST, newStorage, peerUrls, quietLogger, until } from './helpers/cluster.ts';

function segmentCount(dir: string): number {
  return listSegments(readdirSync(dir)).length;
}

test('snapshots compact the log: WAL bounded, old entries gone, a far-behind member catches up by snapshot', async () => {
  const root = mkdtempSync(join(tmpdir(), 'qkv-compact-'));
  const net = new MemoryNetwork({ seed: 11 });
  const ids = ['n1', 'n2', 'n3'];
  const peers = peerUrls(ids);
  const nodes = new Map<string, QuorumNode>();
  const storages = new Map<string, Storage>();
  const start = async (id: string): Promise<QuorumNode> => {
    // 4 KiB segments (the storage minimum) and 1 KiB values: a few entries per segment.
    const storage = fileStorage(join(root, id), { segmentBytes: 4096, logger: quietLogger });
    storages.set(id, storage);
    const node = await createNode({ id, peers, storage, transport: memoryTransport(net), logger: quietLogger, ...FAST, snapshotEvery: 10, snapshotCatchUpEntries: 2 } as NodeOptions);
    nodes.set(id, node);
    return node;
  };
  try {
    await Promise.all(ids.map(start));
    await Promise.all([...nodes.values()].map((n) => n.ready()));
    const leader = nodes.get(nodes.get('n1')!.status().leader)!;
    const lagging = [...nodes.values()].find((n) => n !== leader)!;
    const laggingId = lagging.id;
    await lagging.close();
    nodes.delete(laggingId);

    const value = 'v'.repeat(1024);
    const puts = 120;
    for (let i = 0; i < puts; i += 4) {
      await Promise.all([0, 1, 2, 3].map((k) => leader.put(`/c/${i + k}`, value)));
    }
    const storage = storages.get(leader.id)!;
    await until(() => storage.snapshot().meta.index >= 100, 3_000, 'snapshots on the leader');
    // The log was compacted to the 2-entry catch-up window behind the snapshot, and the WAL
    // segments holding the rest were deleted (120 KiB of entries would need ~30 segments of 4 KiB).
    await until(() => storage.firstIndex() >= storage.snapshot().meta.index - 1, 3_000, 'compaction');
    const first = storage.firstIndex();
    assert.ok(first > 98, `firstIndex advanced (${first})`);
    assert.throws(() => storage.entries(1, 2, 1 << 20), (e: unknown) => e instanceof LogCompactedError);
    const segments = segmentCount(join(root, leader.id));
    assert.ok(segments <= 8, `WAL bounded: ${segments} segment files after ${puts} puts of 1 KiB`);

    // The lagging member restarts from its own files, far behind the leader's first index.
    const back = await start(laggingId);
    await back.ready({ timeoutMs: 5_000 });
    const r = await back.range({ prefix: '/c/' }, { countOnly: true, consistency: 'serializable' });
    assert.is(r.count, puts);
    assert.ok(storages.get(laggingId)!.snapshot().meta.index >= 100, 'caught up by installing a snapshot');
    assert.is((await back.put('/c/after', 1)).revision, puts + 1);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.close().catch(() => {})));
    rmSync(root, { recursive: true, force: true });
  }
});

test('a tight await-put loop on memory storage does not starve ticks, lease expiry or timers', async () => {
  // electionTimeoutMs 20 → lease TTL floor 30 ms.
  const node = await createNode({ id: 'n1', storage: newStorage(), logger: quietLogger, heartbeatMs: 5, electionTimeoutMs: 20, requestTimeoutMs: 3_000 });
  try {
    await node.ready();
    const lease = await node.grantLease(30);
    await node.put('/ephemeral', 1, { lease: lease.id });
    let expired = false;
    lease.on('expired', () => {
      expired = true;
    });
    let timerFired = false;
    const timer = setTimeout(() => {
      timerFired = true;
    }, 5);
    const deadline = Date.now() + 400;
    let i = 0;
    // No await of anything but put(): the driver alone must hand the event loop back.
    while (Date.now() < deadline && !(timerFired && expired)) await node.put(`/tight/${i++ % 16}`, i);
    clearTimeout(timer);
    assert.ok(timerFired, `a 5 ms timer fired during ${i} puts`);
    assert.ok(expired, `the 30 ms lease expired during ${i} puts`);
    assert.is(await node.get('/ephemeral'), undefined);
  } finally {
    await node.close();
  }
});

test('status() after close() is the last known status, synchronously and without throwing', async () => {
  const node = await createNode({ id: 'n1', storage: newStorage(), logger: quietLogger, ...FAST });
  await node.ready();
  await node.put('/s', 1);
  const before = node.status();
  assert.is(node.closed, false);
  await node.close();
  assert.is(node.closed, true);
  const after = node.status();
  assert.is(after.id, 'n1');
  assert.is(after.revision, before.revision);
  assert.is(after.appliedIndex, before.appliedIndex);
  assert.is(after.commitIndex, before.commitIndex);
  assert.is(after.term, before.term);
  assert.equal(after.members, before.members);
});

test('a watch with a listener and an idle iterator is cancelled as slow past maxBufferedEvents', async () => {
  const node = await createNode({ id: 'n1', storage: newStorage(), logger: quietLogger, ...FAST });
  try {
    await node.ready();
    const watch = node.watch({ prefix: '/w/' }, { maxBufferedEvents: 5 });
    let seen = 0;
    let error: unknown;
    watch.on('event', () => seen++);
    watch.on('error', (err) => {
      error = err;
    });
    const it = watch[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) await node.put(`/w/${i}`, i);
    await until(() => error !== undefined, 1_000, 'slow cancellation');
    assert.instance(error, WatchCancelledError);
    assert.is((error as WatchCancelledError).reason, 'slow');
    assert.ok(seen >= 5);
    // The iterator still yields what it buffered, then ends with the error.
    let got = 0;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done === true) break;
        got++;
      }
      assert.unreachable('iterator should end with the error');
    } catch (err) {
      assert.instance(err, WatchCancelledError);
    }
    assert.is(got, 5);
  } finally {
    await node.close();
  }
});

test('a failed Raft invariant while stepping a message stops the member (never swallowed)', async () => {
  const net = new MemoryNetwork({ seed: 5 });
  const ids = ['n1', 'n2', 'n3'];
  const peers = peerUrls(ids);
  let armed = false;
  const wrap = (storage: Storage): Storage =>
    new Proxy(storage, {
      get(target, prop) {
        // Reading a term is what stepping an append does; armed, it fails like a broken invariant.
        if (prop === 'term' && armed) {
          return () => {
            throw new AssertionError('raft', 'injected by the test');
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  const nodes = await Promise.all(
    ids.map((id) =>
      createNode({ id, peers, storage: id === 'n3' ? wrap(newStorage()) : newStorage(), transport: memoryTransport(net), logger: quietLogger, ...FAST } as NodeOptions),
    ),
  );
  try {
    await Promise.all(nodes.map((n) => n.ready()));
    const victim = nodes.find((n) => n.id === 'n3')!;
    const errors: Error[] = [];
    victim.on('error', (err) => errors.push(err));
    const writer = nodes.find((n) => n.id !== 'n3' && n.status().role === 'leader') ?? nodes.find((n) => n.id !== 'n3')!;
    armed = true;
    for (let i = 0; i < 5 && errors.length === 0; i++) await writer.put(`/x/${i}`, i);
    await until(() => errors.length > 0, 2_000, 'the member to stop on the failed invariant');
    assert.match(errors[0]!.message, /assertion failed/);
    await until(() => victim.closed, 1_000, 'closed');
    await rejects(victim.put('/after', 1));
  } finally {
    armed = false;
    await Promise.all(nodes.map((n) => n.close().catch(() => {})));
  }
});

test('a lease revoked while a member was behind: its handle there emits expired when the snapshot arrives', async () => {
  const net = new MemoryNetwork({ seed: 9 });
  const ids = ['n1', 'n2', 'n3'];
  const peers = peerUrls(ids);
  const nodes = await Promise.all(
    ids.map((id) => createNode({ id, peers, storage: newStorage(), transport: memoryTransport(net), logger: quietLogger, ...FAST, snapshotEvery: 10 } as NodeOptions)),
  );
  try {
    await Promise.all(nodes.map((n) => n.ready()));
    const leader = nodes.find((n) => n.id === nodes[0]!.status().leader)!;
    const behind = nodes.find((n) => n !== leader)!;
    const lease = await behind.grantLease(60_000);
    let expired = false;
    lease.on('expired', () => {
      expired = true;
    });
    net.isolate(behind.id);
    await leader.revokeLease(lease.id);
    for (let i = 0; i < 30; i++) await leader.put(`/behind/${i}`, i);
    const leaderApplied = leader.status().appliedIndex;
    assert.is(expired, false);
    net.heal();
    await until(() => behind.status().appliedIndex >= leaderApplied, 5_000, 'the member to catch up');
    assert.ok(behind.status().appliedIndex > 0);
    await until(() => expired, 1_000, 'expired on the member that caught up by snapshot');
  } finally {
    await Promise.all(nodes.map((n) => n.close().catch(() => {})));
  }
});

async function rejects(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, StoppedError);
    return;
  }
  assert.unreachable('expected StoppedError');
}

test.run();
