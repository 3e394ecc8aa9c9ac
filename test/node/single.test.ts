// Proves the whole typed API on a single-member node (real Raft core, store and driver, in-memory
// storage, no transport): every KV call and option, the txn builder, watches (options, progress,
// abort, compaction), leases (grant, keepAlive, ttl, revoke, expiry event, TTL floor, ttlMs
// sugar), compaction, status, snapshots + restart, backup + restoreFrom, and every error path.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AbortedError,
  CompactedError,
  ConflictError,
  FutureRevisionError,
  InvalidArgumentError,
  ProposalDroppedError,
  StorageError,
  KeyExistsError,
  KeyNotFoundError,
  LeaseNotFoundError,
  QuorumError,
  RequestTooLargeError,
  StoppedError,
  TooManyOpsError,
  WatchCancelledError,
  isRetryable,
} from '../../src/errors.ts';
import { clientUrlOf, createNode } from '../../src/create-node.ts';
import { acquireLock, createElection } from '../../src/recipes/index.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import { cmp, op } from '../../src/node/txn-builder.ts';
import type { WatchEvent } from '../../src/node/types.ts';
import type { Storage } from '../../src/storage/types.ts';
import { FAST, newStorage, quietLogger, sleep, until } from './helpers/cluster.ts';

async function single(extra: Partial<NodeOptions> = {}, storage: Storage = newStorage()): Promise<QuorumNode> {
  const node = await createNode({ id: 'n1', storage, logger: quietLogger, ...FAST, ...extra } as NodeOptions);
  await node.ready();
  return node;
}

async function rejects<E extends QuorumError>(p: Promise<unknown>, cls: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, cls, `expected ${cls.name}, got ${String(err)}`);
    return err as E;
  }
  assert.unreachable(`expected ${cls.name}, resolved instead`);
  throw new Error('unreachable');
}

test('put/get/range/delete with every option', async () => {
  const node = await single();
  try {
    const r1 = await node.put('/a', { host: 'db1', port: 5432 });
    assert.is(r1.revision, 1);
    const kv = await node.get<{ host: string }>('/a');
    assert.equal(kv, { key: '/a', value: { host: 'db1', port: 5432 }, createRevision: 1, modRevision: 1, version: 1 });
    assert.is(await node.get('/missing'), undefined);
    const r2 = await node.put('/a', 'v2', { prevKv: true });
    assert.is((r2.prevKv?.value as unknown as { host: string }).host, 'db1');
    await node.put('/b', new Uint8Array([1, 2, 3]));
    await node.put('/c', 3);
    const bytes = await node.get<Uint8Array>('/b', { consistency: 'serializable' });
    assert.equal([...(bytes?.value ?? [])], [1, 2, 3]);
    // Past revision read.
    const old = await node.get('/a', { revision: 1 });
    assert.equal(old?.value, { host: 'db1', port: 5432 });
    // Range options.
    const all = await node.range({ prefix: '/' }, { sort: { by: 'key', order: 'desc' } });
    assert.equal(all.kvs.map((k) => k.key), ['/c', '/b', '/a']);
    assert.is(all.count, 3);
    const page = await node.range({ start: '/a', end: '/c' }, { limit: 1 });
    assert.is(page.kvs.length, 1);
    assert.is(page.more, true);
    assert.is(page.count, 2);
    const keys = await node.range({ prefix: '/' }, { keysOnly: true });
    assert.is(keys.kvs[0]?.value, undefined);
    const count = await node.range({ prefix: '/' }, { countOnly: true });
    assert.is(count.kvs.length, 0);
    assert.is(count.count, 3);
    const fromKey = await node.range({ start: '/b' });
    assert.equal(fromKey.kvs.map((k) => k.key), ['/b', '/c']);
    const modFiltered = await node.range({ prefix: '/' }, { minModRevision: 3, maxCreateRevision: 3 });
    assert.equal(modFiltered.kvs.map((k) => k.key), ['/b']);
    // ignoreValue keeps the value.
    await node.put('/c', undefined, { ignoreValue: true });
    assert.is((await node.get('/c'))?.value, 3);
    // Delete a range with prevKv.
    const del = await node.delete({ prefix: '/' }, { prevKv: true });
    assert.is(del.deleted, 3);
    assert.is(del.prevKvs?.length, 3);
    const none = await node.delete('/nothing');
    assert.is(none.deleted, 0);
  } finally {
    await node.close();
  }
});

test('expect (mk, CAS) and its typed errors', async () => {
  const node = await single();
  try {
    await node.put('/leader', 'me', { expect: 'absent' });
    const e1 = await rejects(node.put('/leader', 'you', { expect: 'absent' }), KeyExistsError);
    assert.is(e1.code, 'KEY_EXISTS');
    await rejects(node.put('/nope', 1, { expect: 'present' }), KeyNotFoundError);
    const { revision } = await node.put('/x', 1);
    await node.put('/x', 2, { expect: { modRevision: revision } });
    const e2 = await rejects(node.put('/x', 3, { expect: { modRevision: revision } }), ConflictError);
    assert.is(e2.code, 'CONFLICT');
    assert.is(isRetryable(e2), false);
    await node.put('/x', 4, { expect: { value: 2 } });
    await rejects(node.put('/x', 5, { expect: { value: 2 } }), ConflictError);
    await node.put('/x', 6, { expect: { version: 3 } });
    await rejects(node.delete('/x', { expect: { value: 999 } }), ConflictError);
    await node.delete('/x', { expect: 'present' });
    await rejects(node.delete('/x', { expect: 'present' }), KeyNotFoundError);
  } finally {
    await node.close();
  }
});

test('txn builder: cmp/op helpers, else branch, nested txn, owns', async () => {
  const node = await single();
  try {
    await node.put('/cfg/version', 3);
    await node.put('/cfg/tmp/1', 'x');
    const lock = await node.put('/cfg/lock', 'held');
    const res = await node
      .txn()
      .if(cmp.value('/cfg/version', '==', 3), cmp.modRevision('/cfg/lock', '<', 100))
      .then(op.put('/cfg/version', 4), op.delete({ prefix: '/cfg/tmp/' }), op.get('/cfg/version'))
      .else(op.get('/cfg/version'))
      .commit();
    assert.is(res.succeeded, true);
    assert.is(res.results.length, 3);
    assert.equal((res.results[2] as { kvs: { value: unknown }[] }).kvs[0]?.value, 4);
    const res2 = await node.txn().if(cmp.value('/cfg/version', '==', 3)).then(op.put('/never', 1)).else(op.range({ prefix: '/cfg/' }, { keysOnly: true })).commit();
    assert.is(res2.succeeded, false);
    assert.equal((res2.results[0] as { kvs: { key: string }[] }).kvs.map((k) => k.key), ['/cfg/lock', '/cfg/version']);
    const holder = { key: '/cfg/lock', createRevision: lock.revision };
    const nested = await node
      .txn()
      .if(cmp.owns(holder), cmp.version('/cfg/version', '>', 0), cmp.createRevision('/cfg/lock', '==', lock.revision), cmp.lease('/cfg/lock', '==', 0))
      .then(op.txn({ if: [cmp.value('/cfg/version', '!=', 4)], then: [], else: [op.put('/inner', true)] }))
      .commit();
    assert.is(nested.succeeded, true);
    assert.is((nested.results[0] as { succeeded: boolean }).succeeded, false);
    assert.is((await node.get('/inner'))?.value, true);
    const tooMany = node.txn().then(...Array.from({ length: 200 }, (_, i) => op.put(`/t${i}`, i)));
    await rejects(tooMany.commit(), TooManyOpsError);
    assert.throws(() => cmp.version('/a', '==', 1.5), (e: unknown) => e instanceof InvalidArgumentError);
    assert.throws(() => cmp.value('/a', '~' as '==', 1), (e: unknown) => e instanceof InvalidArgumentError);
  } finally {
    await node.close();
  }
});

test('watch: from now, startRevision replay, prevKv, filters, emitter + iterator, progress, abort, close', async () => {
  const node = await single({ progressIntervalMs: 30 });
  try {
    await node.put('/w/a', 1);
    await node.put('/w/a', 2);
    // Replay from revision 1 with prevKv, then live.
    const replay = node.watch({ prefix: '/w/' }, { startRevision: 1, prevKv: true });
    const seen: WatchEvent<number>[] = [];
    const iterDone = (async () => {
      for await (const ev of replay as AsyncIterable<WatchEvent<number>>) {
        seen.push(ev);
        if (seen.length === 4) break;
      }
    })();
    // From now, emitter style, deletes only.
    const deletesOnly = node.watch('/w/a', { noPut: true });
    const emitted: WatchEvent<unknown>[] = [];
    deletesOnly.on('event', (ev) => emitted.push(ev));
    const putsOnly = node.watch('/w/a', { noDelete: true });
    const puts: WatchEvent<unknown>[] = [];
    putsOnly.on('event', (ev) => puts.push(ev));
    await node.put('/w/a', 3);
    await node.delete('/w/a');
    await iterDone;
    assert.equal(seen.map((e) => [e.type, e.revision]), [['put', 1], ['put', 2], ['put', 3], ['delete', 4]]);
    assert.is(seen[1]?.prevKv?.value, 1);
    assert.is(seen[3]?.kv.value, undefined);
    assert.is(seen[3]?.kv.version, 0);
    await until(() => emitted.length === 1 && puts.length === 1, 1000, 'filtered events');
    assert.is(emitted[0]?.type, 'delete');
    assert.is(puts[0]?.type, 'put');
    // Progress notify and requestProgress.
    const prog = node.watch('/quiet', { progressNotify: true });
    const progress: number[] = [];
    prog.on('progress', ({ revision }) => progress.push(revision));
    prog.requestProgress();
    await until(() => progress.length >= 2, 1000, 'progress events');
    assert.is(progress[0], 4);
    prog.close();
    // Abort ends the watch with a typed error.
    const ac = new AbortController();
    const aborted = node.watch('/w/', { signal: ac.signal });
    const ended = (async () => {
      try {
        for await (const _ of aborted) {
          /* nothing */
        }
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    ac.abort();
    const err = (await ended) as WatchCancelledError;
    assert.instance(err, WatchCancelledError);
    assert.is(err.reason, 'aborted');
    // close() ends the iteration cleanly.
    const closing = node.watch('/w/');
    setTimeout(() => closing.close(), 10);
    for await (const _ of closing) assert.unreachable();
    deletesOnly.close();
    putsOnly.close();
  } finally {
    await node.close();
  }
});

test('watch: a listener attached later still gets the waiting events', async () => {
  const node = await single();
  try {
    await node.put('/late/a', 1);
    await node.put('/late/b', 2);
    const w = node.watch({ prefix: '/late/' }, { startRevision: 1 });
    await sleep(20);
    const got: number[] = [];
    w.on('event', (ev) => got.push(ev.revision));
    await until(() => got.length === 2, 1000, 'late listener');
    assert.equal(got, [1, 2]);
    w.close();
  } finally {
    await node.close();
  }
});

test('watch: compacted start revision → CompactedError; node close → WatchCancelledError(closed)', async () => {
  const node = await single();
  await node.put('/k', 1);
  await node.put('/k', 2);
  await node.put('/k', 3);
  await node.compact(3);
  const w = node.watch('/k', { startRevision: 1 });
  let err: unknown;
  try {
    for await (const _ of w) {
      /* nothing */
    }
  } catch (e) {
    err = e;
  }
  assert.instance(err, CompactedError);
  assert.is((err as CompactedError).compactRevision, 3);
  await rejects(node.get('/k', { revision: 1 }), CompactedError);
  await rejects(node.get('/k', { revision: 99 }), FutureRevisionError);
  const live = node.watch('/k');
  const errors: unknown[] = [];
  live.on('error', (e) => errors.push(e));
  await node.close();
  assert.instance(errors[0], WatchCancelledError);
  assert.is((errors[0] as WatchCancelledError).reason, 'closed');
});

test('leases: grant with floor, keepAlive, timeToLive, revoke, expiry on the leader, ttlMs sugar, by-id calls', async () => {
  let now = 1_000_000;
  const node = await single({ now: () => now });
  try {
    const floor = Math.ceil(1.5 * FAST.electionTimeoutMs);
    const lease = await node.grantLease(10);
    assert.is(lease.ttlMs, floor);
    const big = await node.grantLease(60_000, { id: 42 });
    assert.is(big.id, 42);
    await node.put('/l/a', 1, { lease: lease.id });
    const ttl = await lease.timeToLive({ keys: true });
    assert.equal(ttl.keys, ['/l/a']);
    assert.is(ttl.grantedTtlMs, floor);
    now += 100;
    assert.is(await lease.keepAlive(), floor);
    assert.is(await node.keepAliveLease(42), 60_000);
    const listed = await node.leases();
    assert.equal(listed.map((l) => l.id).sort((a, b) => a - b), [42, lease.id].sort((a, b) => a - b));
    // Expiry: advance the injected clock past the TTL; the leader proposes the revoke.
    let expired = false;
    lease.on('expired', () => (expired = true));
    now += floor + 1;
    await until(() => expired, 2000, 'lease expiry');
    assert.is(await node.get('/l/a'), undefined);
    await rejects(lease.keepAlive(), LeaseNotFoundError);
    await rejects(node.leaseTimeToLive(lease.id), LeaseNotFoundError);
    // ttlMs sugar: a lease per put.
    await node.put('/l/tmp', 'x', { ttlMs: 5_000 });
    const kv = await node.get('/l/tmp');
    assert.ok(kv?.lease !== undefined && kv.lease > 0);
    await node.revokeLease(kv!.lease!);
    assert.is(await node.get('/l/tmp'), undefined);
    await big.revoke();
    await rejects(node.revokeLease(42), LeaseNotFoundError);
    await rejects(node.put('/l/b', 1, { lease: 12345 }), LeaseNotFoundError);
    await rejects(node.put('/l/b', 1, { lease: 1, ttlMs: 1000 }), InvalidArgumentError);
    await rejects(node.grantLease(-1), InvalidArgumentError);
  } finally {
    await node.close();
  }
});

test('errors: invalid arguments, request too large, stopped, aborted, timeout', async () => {
  const node = await single({ maxRequestBytes: 1024 });
  await rejects(node.put('', 1), InvalidArgumentError);
  await rejects(node.get(''), InvalidArgumentError);
  await rejects(node.range({ bogus: 1 } as never), InvalidArgumentError);
  await rejects(node.get('/a', { consistency: 'eventual' as never }), InvalidArgumentError);
  await rejects(node.put('/a', undefined), InvalidArgumentError);
  await rejects(node.put('/a', 1, { timeoutMs: -5 }), InvalidArgumentError);
  await rejects(node.compact(0), InvalidArgumentError);
  const tooLarge = await rejects(node.put('/big', 'x'.repeat(4096)), RequestTooLargeError);
  assert.is(tooLarge.code, 'REQUEST_TOO_LARGE');
  const ac = new AbortController();
  ac.abort();
  await rejects(node.put('/a', 1, { signal: ac.signal }), AbortedError);
  await rejects(node.cluster.add('n2', 'http://bad', {}), InvalidArgumentError);
  await node.close();
  await node.close(); // Idempotent.
  const stopped = await rejects(node.put('/a', 1), StoppedError);
  assert.is(stopped.code, 'STOPPED');
  await rejects(node.get('/a'), StoppedError);
  assert.throws(() => node.watch('/a'), (e: unknown) => e instanceof StoppedError);
});

test('snapshots every snapshotEvery entries; restart restores the store and replays the tail', async () => {
  const storage = newStorage();
  const node = await single({ snapshotEvery: 10, snapshotCatchUpEntries: 2 }, storage);
  for (let i = 0; i < 25; i++) await node.put(`/s/${i}`, i);
  await until(() => storage.snapshot().meta.index >= 20, 1000, 'snapshot');
  assert.ok(storage.firstIndex() > 1, 'log compacted behind the snapshot');
  const before = node.status();
  await node.close();
  const again = await single({ snapshotEvery: 10 }, storage.crash());
  try {
    const st = again.status();
    assert.ok(st.appliedIndex >= before.appliedIndex);
    assert.is(st.revision, 25);
    const r = await again.range({ prefix: '/s/' }, { countOnly: true });
    assert.is(r.count, 25);
    assert.is((await again.put('/s/next', 1)).revision, 26);
  } finally {
    await again.close();
  }
});

test('a catch-up window of entries stays behind each snapshot, bounded in entries and in bytes', async () => {
  const byEntries = newStorage();
  let node = await single({ snapshotEvery: 20, snapshotCatchUpEntries: 5 }, byEntries);
  try {
    for (let i = 0; i < 30; i++) await node.put(`/c/${i}`, i);
    await until(() => byEntries.snapshot().meta.index > 0 && byEntries.firstIndex() > 1, 1000, 'snapshot and compaction');
    assert.is(byEntries.firstIndex(), byEntries.snapshot().meta.index - 4, '5 entries kept behind the snapshot');
  } finally {
    await node.close();
  }
  const byBytes = newStorage();
  node = await single({ snapshotEvery: 20, snapshotCatchUpEntries: 1_000, snapshotCatchUpBytes: 10 * 1024 }, byBytes);
  try {
    for (let i = 0; i < 30; i++) await node.put(`/c/${i}`, 'x'.repeat(4096));
    await until(() => byBytes.snapshot().meta.index > 0 && byBytes.firstIndex() > 1, 1000, 'snapshot and compaction');
    const snap = byBytes.snapshot().meta.index;
    assert.is(byBytes.firstIndex(), snap - 1, 'two 4 KiB entries fit in 10 KiB, a third does not');
  } finally {
    await node.close();
  }
  const none = newStorage();
  node = await single({ snapshotEvery: 20, snapshotCatchUpEntries: 0 }, none);
  try {
    for (let i = 0; i < 30; i++) await node.put(`/c/${i}`, i);
    await until(() => none.snapshot().meta.index > 0 && none.firstIndex() > 1, 1000, 'snapshot and compaction');
    assert.is(none.firstIndex(), none.snapshot().meta.index + 1);
  } finally {
    await node.close();
  }
});

test('snapshotEveryBytes: large values trigger a snapshot long before snapshotEvery entries', async () => {
  const storage = newStorage();
  const node = await single({ snapshotEvery: 1_000_000, snapshotEveryBytes: 16 * 1024, snapshotCatchUpEntries: 2 }, storage);
  try {
    const value = 'x'.repeat(4096);
    for (let i = 0; i < 3; i++) await node.put(`/big/${i}`, value);
    await sleep(50);
    assert.is(storage.snapshot().meta.index, 0, 'under the byte bound: no snapshot');
    for (let i = 3; i < 8; i++) await node.put(`/big/${i}`, value);
    await until(() => storage.snapshot().meta.index > 0, 1000, 'snapshot by bytes');
    await until(() => storage.firstIndex() > 1, 1000, 'compaction');
    assert.is(storage.firstIndex(), storage.snapshot().meta.index - 1, 'log compacted to 2 entries behind the snapshot');
  } finally {
    await node.close();
  }
  const bad = await createNode({ id: 'a', storage: newStorage(), snapshotEveryBytes: 0 } as NodeOptions).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(bad instanceof RangeError && /snapshotEveryBytes/.test(bad.message), 'a bad snapshotEveryBytes is a RangeError naming it');
});

test('an unknown option is a RangeError naming it, and nothing starts', async () => {
  const storage = newStorage();
  const typo = await createNode({ id: 'a', storage, electionTimeout: 5 } as unknown as NodeOptions).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(typo instanceof RangeError, 'RangeError');
  assert.is((typo as RangeError).message, 'createNode: unknown option "electionTimeout"');
  const two = await createNode({ id: 'a', storage, snapshotCount: 1, heartbeat: 2 } as unknown as NodeOptions).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.is((two as RangeError).message, 'createNode: unknown options "snapshotCount", "heartbeat"');
  assert.is(storage.lastIndex(), 0, 'the storage was not even written');
});

test('an unknown client endpoint option is a RangeError naming it, and the node is closed', async () => {
  const failed = async (client: object): Promise<unknown> => createNode({ id: 'c', storage: newStorage(), client } as unknown as NodeOptions).then(
    (n) => n.close().then(() => undefined),
    (e: unknown) => e,
  );
  const typo = await failed({ prot: 0 });
  assert.ok(typo instanceof RangeError, 'RangeError');
  assert.is((typo as RangeError).message, 'startClientServer: unknown option "prot"');
  assert.is(((await failed({ port: 0, maxRequestByte: 5, tls: undefined })) as RangeError).message, 'startClientServer: unknown option "maxRequestByte"');
  assert.is(((await failed({ listen: { port: 0, hots: 'x' } })) as RangeError).message, 'startClientServer: unknown option "listen.hots"');
  assert.is(((await failed({ port: 0, tls: { cert: 'c', key: 'k', cafile: 'x' } })) as RangeError).message, 'startClientServer: unknown option "tls.cafile"');
});

test('backup + restoreFrom + snapshotBytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-node-'));
  try {
    const node = await single();
    await node.put('/b/1', 'one');
    await node.put('/b/2', 'two');
    const info = await node.backup(join(dir, 'backup.snap'));
    assert.is(info.revision, 2);
    const bytes = await node.snapshotBytes();
    assert.ok(bytes.length > 16);
    await node.close();
    const restored = await single({ restoreFrom: join(dir, 'backup.snap') });
    try {
      assert.is((await restored.get('/b/2'))?.value, 'two');
      assert.is(restored.status().revision, 2);
      assert.is((await restored.put('/b/3', 'three')).revision, 3);
    } finally {
      await restored.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status and events on a single member', async () => {
  const node = await createNode({ id: 'solo', storage: newStorage(), logger: quietLogger, ...FAST });
  const leaders: string[] = [];
  node.on('leader', ({ leader }) => leaders.push(leader));
  await node.ready();
  await until(() => node.status().role === 'leader', 1000, 'leader');
  const st = node.status();
  assert.is(st.id, 'solo');
  assert.is(st.leader, 'solo');
  assert.equal(st.members, [{ id: 'solo', name: 'solo', url: '', peerUrls: [], clientUrls: [], learner: false }]);
  assert.equal(await node.cluster.members(), st.members);
  await sleep(1);
  await node.close();
});

test('limits: maxPendingProposals and maxWatchBufferedEvents (slow watcher)', async () => {
  const node = await single({ maxPendingProposals: 2 });
  try {
    const results = await Promise.allSettled([node.put('/p/1', 1), node.put('/p/2', 2), node.put('/p/3', 3)]);
    assert.is(results.filter((r) => r.status === 'fulfilled').length, 2);
    const dropped = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.instance(dropped.reason, ProposalDroppedError);
    assert.ok(isRetryable(dropped.reason));
    const slow = node.watch({ prefix: '/slow/' }, { maxBufferedEvents: 2 });
    const it = slow[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) await node.put(`/slow/${i}`, i);
    const err = await (async () => {
      try {
        for (;;) if ((await it.next()).done === true) return undefined;
      } catch (e) {
        return e;
      }
    })();
    assert.instance(err, WatchCancelledError);
    assert.is((err as WatchCancelledError).reason, 'slow');
  } finally {
    await node.close();
  }
});

test('a storage failure stops the member (fail-stop) and emits error', async () => {
  const storage = newStorage();
  const node = await single({}, storage);
  const errors: Error[] = [];
  node.on('error', (e) => errors.push(e));
  const save = storage.save.bind(storage);
  storage.save = async () => {
    throw new StorageError('storage: disk on fire');
  };
  const err = await node.put('/x', 1).catch((e: unknown) => e);
  assert.instance(err, StoppedError);
  await until(() => errors.length === 1, 1000, 'error event');
  assert.instance(errors[0], StorageError);
  await rejects(node.get('/x'), StoppedError);
  storage.save = save;
  await node.close();
});

test('recipes and client endpoint are wired: acquireLock(), createElection(), client option closed with the node', async () => {
  const node = await single({ client: { host: '127.0.0.1', port: 0 } });
  try {
    const url = clientUrlOf(node);
    assert.ok(url !== undefined && url.startsWith('http://127.0.0.1:'));
    const health = await fetch(`${url}/health`);
    assert.is(health.status, 200);
    const lock = await acquireLock(node, '/locks/a', { ttlMs: 1_000 });
    assert.ok(lock.fencingToken > 0);
    assert.is(await lock.release(), true);
    const election = createElection<string>(node, '/elections/x');
    await election.campaign('me');
    await election.resign();
  } finally {
    await node.close();
  }
  const url = clientUrlOf(node);
  assert.ok(url !== undefined);
  // The endpoint closed with the node: nothing listens on its port any more.
  const after = await fetch(`${url}/health`).then(() => 'served', (err: unknown) => err);
  assert.instance(after, TypeError);
});

test.run();
