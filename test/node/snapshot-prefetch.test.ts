// Proves the rules of the background rebuild of received snapshots (src/node/snapshot-prefetch.ts)
// with a fake driver: a wanted snapshot reaches Raft only once its store is rebuilt, and the
// rebuilt store is handed out for exactly that snapshot, once; a snapshot Raft would not install
// goes through at once, unrebuilt; one rebuild at a time (others dropped); appends of the
// snapshot's term are dropped meanwhile, a newer term abandons the rebuild; an undecodable
// snapshot stops the member instead of being persisted; stop() abandons a rebuild.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeAppSnapshot } from '../../src/node/codec.ts';
import { SnapshotPrefetch } from '../../src/node/snapshot-prefetch.ts';
import type { Message } from '../../src/protocol/types.ts';
import { Store } from '../../src/store/store.ts';
import { sleep, until } from './helpers/cluster.ts';

function storeBytes(keys: number): Uint8Array {
  const s = new Store();
  for (let i = 0; i < keys; i++) s.apply({ type: 'put', request: { key: `k${i}`, value: Uint8Array.of(i & 0xff) } });
  return encodeAppSnapshot({ store: s.snapshot().encode(), members: {}, dedupe: [] });
}

function message(type: Message['type'], term: number, index = 0, data?: Uint8Array): Message {
  const base = { type, from: 'n1', to: 'n2', term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
  return data === undefined ? base : { ...base, snapshot: { meta: { index, term, confState: { voters: ['n1', 'n2'], learners: [] } }, data } };
}

function fakeHost(wanted = true): { delivered: Message[]; failed: unknown[]; host: ConstructorParameters<typeof SnapshotPrefetch>[0] } {
  const delivered: Message[] = [];
  const failed: unknown[] = [];
  return { delivered, failed, host: { limits: {}, deliver: (m) => delivered.push(m), wanted: () => wanted, fail: (e) => failed.push(e), stopped: () => false } };
}

test('a wanted snapshot is delivered once rebuilt; its store is handed out once, for that snapshot only', async () => {
  const h = fakeHost();
  const p = new SnapshotPrefetch(h.host);
  const m = message('snapshot', 3, 40, storeBytes(2_000));
  p.hold(m);
  assert.ok(p.busy);
  assert.is(h.delivered.length, 0, 'held while rebuilding');
  p.hold(message('snapshot', 3, 50, storeBytes(10)));
  await until(() => h.delivered.length > 0, 5_000, 'delivery');
  assert.equal(h.delivered, [m], 'the second snapshot was dropped');
  p.hold(message('snapshot', 3, 60, storeBytes(10)));
  await sleep(20);
  assert.is(h.delivered.length, 1, 'dropped while a rebuilt store waits to be installed');
  assert.is(p.take({ ...m.snapshot!, data: new Uint8Array(m.snapshot!.data) }), undefined, 'other bytes: no store');
  const store = p.take(m.snapshot!);
  assert.ok(store !== undefined);
  assert.is(store.keyCount, 2_000);
  assert.is(p.take(m.snapshot!), undefined, 'handed out once');
});

test('a stepped but uninstalled store is dropped at settle()', async () => {
  const h = fakeHost();
  const p = new SnapshotPrefetch(h.host);
  const m = message('snapshot', 3, 40, storeBytes(10));
  p.hold(m);
  await until(() => h.delivered.length > 0, 5_000, 'delivery');
  p.settle();
  p.stepped(m);
  p.settle();
  assert.is(p.take(m.snapshot!), undefined);
});

test('a snapshot Raft would not install goes through at once, unrebuilt', () => {
  const h = fakeHost(false);
  const p = new SnapshotPrefetch(h.host);
  const m = message('snapshot', 2, 10, storeBytes(10));
  p.hold(m);
  assert.not.ok(p.busy);
  assert.equal(h.delivered, [m]);
});

test('appends of the snapshot term are dropped while it rebuilds; a newer term abandons the rebuild', async () => {
  const h = fakeHost();
  const p = new SnapshotPrefetch(h.host);
  p.hold(message('snapshot', 3, 40, storeBytes(20_000)));
  assert.ok(p.dropAppend(message('append', 3)));
  assert.ok(p.dropAppend(message('append', 2)));
  assert.not.ok(p.dropAppend(message('append', 4)), 'a new leader: let it through');
  assert.not.ok(p.busy);
  await sleep(300);
  assert.is(h.delivered.length, 0, 'the abandoned snapshot never reaches Raft');
  assert.not.ok(p.dropAppend(message('append', 3)), 'nothing held: nothing dropped');
});

test('an undecodable snapshot stops the member instead of reaching Raft; stop() abandons a rebuild', async () => {
  const h = fakeHost();
  const p = new SnapshotPrefetch(h.host);
  p.hold(message('snapshot', 3, 40, Uint8Array.of(1, 2, 3)));
  await sleep(20);
  assert.is(h.failed.length, 1);
  assert.is(h.delivered.length, 0);
  const bad = encodeAppSnapshot({ store: Uint8Array.of(0x93, 1, 2, 3), members: {}, dedupe: [] });
  p.hold(message('snapshot', 3, 41, bad));
  await until(() => h.failed.length === 2, 2_000, 'the rebuild to fail');
  assert.is(h.delivered.length, 0);
  p.hold(message('snapshot', 3, 42, storeBytes(20_000)));
  p.stop();
  assert.not.ok(p.busy);
  await sleep(300);
  assert.is(h.delivered.length, 0);
  assert.is(h.failed.length, 2, 'an abandoned rebuild is no failure');
});

test.run();
