// Snapshot messages whose bytes stay on disk (file storage) leave with the bytes loaded
// (src/node/snapshot-loading-transport.ts): other messages are not held back, concurrent
// followers share one read, and a failed or outdated load is reported as undelivered.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SnapshotLoadingTransport } from '../../src/node/snapshot-loading-transport.ts';
import type { Message, MessageType, NodeId, PeerMessage, Snapshot } from '../../src/protocol/types.ts';
import { DETACHED_SNAPSHOT_DATA, detached } from '../../src/storage/types.ts';
import type { Transport } from '../../src/transport/types.ts';

const FULL: Snapshot = { meta: { index: 40, term: 3, confState: { voters: ['a', 'b', 'c'], learners: [] } }, data: new Uint8Array([1, 2, 3]) };

function msg(type: MessageType, to: NodeId, snapshot?: Snapshot): Message {
  return { type, from: 'a', to, term: 3, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...(snapshot === undefined ? {} : { snapshot }) };
}

interface Rig {
  readonly t: SnapshotLoadingTransport;
  readonly sent: { to: NodeId; batch: readonly PeerMessage[] }[];
  readonly statuses: { peer: NodeId; delivered: boolean }[];
  readonly loads: { count: number };
}

async function rig(load: () => Promise<Snapshot>): Promise<Rig> {
  const sent: Rig['sent'] = [];
  const statuses: Rig['statuses'] = [];
  const loads = { count: 0 };
  const inner: Transport = {
    start: () => Promise.resolve(),
    send: (to, batch) => void sent.push({ to, batch }),
    addPeer: () => {},
    removePeer: () => {},
    stop: () => Promise.resolve(),
  };
  const t = new SnapshotLoadingTransport(
    inner,
    () => {
      loads.count++;
      return load();
    },
    () => {},
  );
  await t.start('a', { onMessages: () => {}, onUnreachable: () => {}, onSnapshotStatus: (peer, delivered) => void statuses.push({ peer, delivered }) });
  return { t, sent, statuses, loads };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

test('a detached snapshot goes out with its bytes; the rest of the batch at once', async () => {
  const r = await rig(() => Promise.resolve(FULL));
  r.t.send('b', [msg('heartbeat', 'b'), msg('snapshot', 'b', detached(FULL)), msg('heartbeat', 'b')]);
  assert.is(r.sent.length, 1);
  assert.equal(
    r.sent[0]!.batch.map((m) => m.type),
    ['heartbeat', 'heartbeat'],
  );
  await settle();
  assert.is(r.sent.length, 2);
  const out = r.sent[1]!.batch[0] as Message;
  assert.is(out.type, 'snapshot');
  assert.is(out.snapshot?.data, FULL.data, 'the loaded bytes');
  assert.is(out.term, 3);
  assert.equal(r.statuses, []);
});

test('a snapshot that carries its bytes passes unchanged and loads nothing', async () => {
  const r = await rig(() => Promise.reject(new Error('must not load')));
  const m = msg('snapshot', 'b', FULL);
  r.t.send('b', [m]);
  await settle();
  assert.is(r.loads.count, 0);
  assert.is(r.sent[0]!.batch[0], m);
});

test('followers that need the snapshot at the same time share one read', async () => {
  let release: (s: Snapshot) => void = () => {};
  const r = await rig(() => new Promise<Snapshot>((resolve) => (release = resolve)));
  r.t.send('b', [msg('snapshot', 'b', detached(FULL))]);
  r.t.send('c', [msg('snapshot', 'c', detached(FULL))]);
  release(FULL);
  await settle();
  assert.is(r.loads.count, 1);
  assert.equal(
    r.sent.map((s) => s.to),
    ['b', 'c'],
  );
  // Once settled, the bytes are not kept: the next send reads again.
  r.t.send('b', [msg('snapshot', 'b', detached(FULL))]);
  await settle();
  assert.is(r.loads.count, 2);
});

test('a failed load or a newer snapshot in its place is reported as undelivered', async () => {
  const failing = await rig(() => Promise.reject(new Error('disk gone')));
  failing.t.send('b', [msg('snapshot', 'b', detached(FULL))]);
  await settle();
  assert.equal(failing.sent, []);
  assert.equal(failing.statuses, [{ peer: 'b', delivered: false }]);

  const newer: Snapshot = { meta: { ...FULL.meta, index: 50 }, data: new Uint8Array([9]) };
  const moved = await rig(() => Promise.resolve(newer));
  moved.t.send('c', [msg('snapshot', 'c', detached(FULL))]);
  await settle();
  assert.equal(moved.sent, []);
  assert.equal(moved.statuses, [{ peer: 'c', delivered: false }]);
});

test('nothing is sent or reported after stop', async () => {
  let release: (s: Snapshot) => void = () => {};
  const r = await rig(() => new Promise<Snapshot>((resolve) => (release = resolve)));
  r.t.send('b', [msg('snapshot', 'b', detached(FULL))]);
  await r.t.stop();
  release(FULL);
  await settle();
  assert.equal(r.sent, []);
  assert.equal(r.statuses, []);
});

test('the optional transport methods reach the real transport (the member directory of a joining member)', () => {
  let directory: (() => string) | undefined;
  const inner: Transport = { start: () => Promise.resolve(), send: () => {}, addPeer: () => {}, removePeer: () => {}, stop: () => Promise.resolve(), setMemberDirectory: (d) => void (directory = d) };
  new SnapshotLoadingTransport(inner, () => Promise.reject(new Error('unused')), () => {}).setMemberDirectory(() => '[]');
  assert.is(directory?.(), '[]');
});

test('detached() keeps the meta and drops the bytes; an empty snapshot stays as it is', () => {
  const d = detached(FULL);
  assert.is(d.data, DETACHED_SNAPSHOT_DATA);
  assert.is(d.meta, FULL.meta);
  const empty: Snapshot = { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
  assert.is(detached(empty), empty);
});

test.run();
