// Proves the in-memory network delivers per-link in order, applies seeded faults reproducibly
// (drop, duplicate, reorder, delay), blocks and heals partitions, cuts and isolation, copies
// messages (only the viewed bytes of each byte array) so members share no state, and reports
// unreachable peers, snapshot status, and a stopped member's connections closing
// (onConnectionLost to the others, not to removed peers).
// Runs members in one process on MemoryNetwork in both 'manual' (stepped) and 'realtime' mode.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryNetwork, memoryTransport } from '../../src/transport/memory-transport.ts';
import type { Transport } from '../../src/transport/types.ts';
import type { Message } from '../../src/protocol/types.ts';
import { msg, recorder, waitFor } from './helpers.ts';
import type { Recorder } from './helpers.ts';

const SEED = Number(process.env['QKV_SEED'] ?? 42);
console.log(`memory-transport seed ${SEED} (replay: QKV_SEED=${SEED} node --import tsx test/transport/memory-transport.test.ts)`);

async function cluster(net: MemoryNetwork, ids: string[]): Promise<{ t: Record<string, Transport>; r: Record<string, Recorder> }> {
  const t: Record<string, Transport> = {};
  const r: Record<string, Recorder> = {};
  for (const id of ids) {
    t[id] = memoryTransport(net);
    r[id] = recorder();
    await t[id].start(id, r[id]);
  }
  return { t, r };
}

const indexes = (rec: Recorder, from: string): number[] =>
  rec.received.filter((x) => x.from === from).map((x) => (x.message as Message).index);

test('a stopped or killed member: the others hear its connection close (as network events), except members that removed it or are cut off from it', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['n1', 'n2', 'n3']);
  const { t: t2, r: r2 } = await cluster(net, ['n4', 'n5']);
  t['n3']!.removePeer('n1');
  net.cut('n1', 'n4');
  await t['n1']!.stop();
  assert.equal(r['n2']!.connectionLost, [], 'manual mode: nothing before step()');
  net.deliverAll();
  assert.equal(r['n2']!.connectionLost, ['n1']);
  assert.equal(r['n3']!.connectionLost, [], 'n3 removed n1');
  assert.equal(r2['n4']!.connectionLost, [], 'a cut link carries no close');
  assert.equal(r2['n5']!.connectionLost, ['n1']);
  assert.equal(r['n1']!.connectionLost, []);
  await t2['n5']!.stop();
  assert.ok(net.kill('n2'));
  assert.not.ok(net.kill('n2'), 'already gone');
  net.deliverAll();
  assert.equal(r2['n5']!.connectionLost, ['n1'], 'a stopped member hears nothing more');
  assert.equal(r2['n4']!.connectionLost, ['n5', 'n2']);
});

test('manual mode: per-link FIFO delivery, nothing before step()', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['n1', 'n2', 'n3']);
  for (let i = 0; i < 50; i++) t['n1']!.send('n2', [msg('n1', 'n2', i)]);
  t['n3']!.send('n2', [msg('n3', 'n2', 100), msg('n3', 'n2', 101)]);
  assert.is(r['n2']!.received.length, 0, 'nothing is delivered synchronously');
  assert.is(net.pending(), 52);
  assert.ok(net.step());
  assert.is(r['n2']!.received.length, 1);
  net.deliverAll();
  assert.equal(indexes(r['n2']!, 'n1'), [...Array(50).keys()]);
  assert.equal(indexes(r['n2']!, 'n3'), [100, 101]);
  assert.is(net.pending(), 0);
  assert.not.ok(net.step());
});

test('delays keep per-link order and advance() releases by virtual time', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['a', 'b']);
  net.setFaults({ delayMs: [5, 50] });
  for (let i = 0; i < 100; i++) t['a']!.send('b', [msg('a', 'b', i)]);
  assert.is(net.advance(4), 0, 'nothing due before the minimum delay');
  net.advance(1000);
  assert.equal(indexes(r['b']!, 'a'), [...Array(100).keys()], 'FIFO despite random delays');
});

test('realtime mode delivers asynchronously in order, with and without delay', async () => {
  const net = new MemoryNetwork({ seed: SEED });
  const { t, r } = await cluster(net, ['a', 'b']);
  for (let i = 0; i < 20; i++) t['a']!.send('b', [msg('a', 'b', i)]);
  assert.is(r['b']!.received.length, 0);
  await waitFor(() => r['b']!.received.length === 20, '20 deliveries');
  net.setFaults({ delayMs: [1, 10] });
  for (let i = 20; i < 40; i++) t['a']!.send('b', [msg('a', 'b', i)]);
  await waitFor(() => r['b']!.received.length === 40, '40 deliveries');
  assert.equal(indexes(r['b']!, 'a'), [...Array(40).keys()]);
});

test('symmetric partition blocks both ways and reports unreachable; heal restores', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['n1', 'n2', 'n3']);
  net.partition(['n1'], ['n2', 'n3']);
  t['n1']!.send('n2', [msg('n1', 'n2', 1)]);
  t['n2']!.send('n1', [msg('n2', 'n1', 1)]);
  t['n2']!.send('n3', [msg('n2', 'n3', 1)]);
  net.deliverAll();
  assert.is(r['n2']!.received.length, 0);
  assert.is(r['n1']!.received.length, 0);
  assert.is(r['n3']!.received.length, 1, 'same side still talks');
  assert.equal(r['n1']!.unreachable, ['n2']);
  assert.equal(r['n2']!.unreachable, ['n1']);
  net.heal();
  t['n1']!.send('n2', [msg('n1', 'n2', 2)]);
  net.deliverAll();
  assert.equal(indexes(r['n2']!, 'n1'), [2]);
});

test('asymmetric cut, isolate, and in-flight loss when a link goes down', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['n1', 'n2', 'n3']);
  net.cut('n1', 'n2');
  t['n1']!.send('n2', [msg('n1', 'n2', 1)]);
  t['n2']!.send('n1', [msg('n2', 'n1', 1)]);
  net.deliverAll();
  assert.is(r['n2']!.received.length, 0, 'n1 → n2 cut');
  assert.is(r['n1']!.received.length, 1, 'n2 → n1 flows');
  net.heal();
  net.isolate('n3');
  t['n1']!.send('n3', [msg('n1', 'n3', 1)]);
  t['n3']!.send('n2', [msg('n3', 'n2', 1)]);
  net.deliverAll();
  assert.is(r['n3']!.received.length, 0);
  assert.is(r['n2']!.received.length, 0);
  net.heal();
  t['n1']!.send('n2', [msg('n1', 'n2', 7)]);
  net.partition(['n1'], ['n2']);
  net.deliverAll();
  assert.is(r['n2']!.received.length, 0, 'a message in flight when the partition starts is lost');
  assert.ok(net.stats.blocked >= 4);
});

test('seeded drops and duplicates are reproducible', async () => {
  const run = async (seed: number): Promise<number[]> => {
    const net = new MemoryNetwork({ seed, mode: 'manual' });
    const { t, r } = await cluster(net, ['a', 'b']);
    net.setFaults({ dropRate: 0.3, duplicateRate: 0.2 });
    for (let i = 0; i < 500; i++) t['a']!.send('b', [msg('a', 'b', i)]);
    net.deliverAll();
    return indexes(r['b']!, 'a');
  };
  const first = await run(SEED);
  assert.equal(await run(SEED), first, 'same seed, same run');
  assert.not.equal(await run(SEED + 1), first, 'another seed, another run');
  const distinct = new Set(first).size;
  assert.ok(distinct > 250 && distinct < 450, `about 70% survive drops (got ${distinct})`);
  assert.ok(first.length > distinct, 'some were duplicated');
  for (let i = 1; i < first.length; i++) assert.ok(first[i]! >= first[i - 1]!, 'no reordering without reorderRate');
});

test('reorderRate lets messages overtake; per-link overrides apply to one direction', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['a', 'b']);
  net.setLinkFaults('a', 'b', { reorderRate: 0.5, delayMs: [1, 5] });
  for (let i = 0; i < 200; i++) {
    t['a']!.send('b', [msg('a', 'b', i)]);
    t['b']!.send('a', [msg('b', 'a', i)]);
  }
  net.deliverAll();
  const ab = indexes(r['b']!, 'a');
  assert.is(ab.length, 200);
  assert.ok(ab.some((v, i) => i > 0 && v < ab[i - 1]!), 'a → b reordered');
  assert.equal(indexes(r['a']!, 'b'), [...Array(200).keys()], 'b → a untouched');
  net.clearFaults();
  assert.throws(() => net.setFaults({ dropRate: 2 }), /dropRate/);
  assert.throws(() => net.setFaults({ delayMs: [5, 1] }), /delayMs/);
});

test('messages are copies: the sender mutating after send changes nothing', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['a', 'b']);
  const m = msg('a', 'b', 1);
  t['a']!.send('b', [m]);
  m.entries[0]!.data[0] = 99;
  net.deliverAll();
  const got = r['b']!.received[0]!.message as Message;
  assert.is(got.entries[0]!.data[0], 1);
  assert.is.not(got, m);
});

test('a copy holds exactly the viewed bytes: a view into a large buffer (a pooled Buffer) is not copied whole', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['a', 'b']);
  const slab = Buffer.alloc(8192, 7);
  const data = slab.subarray(100, 110);
  data.fill(42);
  const context = slab.subarray(200, 204);
  const snapshotData = slab.subarray(300, 1300);
  const m = msg('a', 'b', 1, {
    entries: [{ term: 1, index: 2, type: 'normal', data }],
    context,
    snapshot: { meta: { index: 5, term: 1, confState: { voters: ['a', 'b'], learners: [] } }, data: snapshotData },
  });
  t['a']!.send('b', [m, { type: 'app', from: 'a', to: 'b', channel: 'c', payload: slab.subarray(0, 3) }]);
  slab.fill(0);
  net.deliverAll();
  const got = r['b']!.received[0]!.message as Message;
  const bytes = got.entries[0]!.data;
  assert.is(bytes.byteLength, 10);
  assert.is(bytes.buffer.byteLength, 10, 'not the 8 KiB slab');
  assert.equal([...bytes], Array(10).fill(42));
  assert.is(got.context?.buffer.byteLength, 4);
  assert.equal([...got.context!], [7, 7, 7, 7]);
  assert.is(got.snapshot?.data.buffer.byteLength, 1000);
  assert.equal(got.snapshot?.meta, { index: 5, term: 1, confState: { voters: ['a', 'b'], learners: [] } });
  const app = r['b']!.received[1]!.message;
  assert.ok(app.type === 'app');
  assert.is(app.payload.buffer.byteLength, 3);
  assert.equal(app, { type: 'app', from: 'a', to: 'b', channel: 'c', payload: new Uint8Array([7, 7, 7]) });
  const expected: Message = {
    ...m,
    entries: [{ term: 1, index: 2, type: 'normal', data: new Uint8Array(10).fill(42) }],
    context: new Uint8Array([7, 7, 7, 7]),
    snapshot: { meta: { index: 5, term: 1, confState: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array(1000).fill(7) },
  };
  assert.equal(got, expected, 'every field, and the bytes as they were at send time');
});

test('a duplicated message arrives as two independent copies; empty and frozen parts copy too', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['a', 'b']);
  net.setFaults({ duplicateRate: 1 });
  const frozen = Object.freeze({ meta: Object.freeze({ index: 0, term: 0, confState: Object.freeze({ voters: [], learners: [] }) }), data: new Uint8Array(0) });
  t['a']!.send('b', [msg('a', 'b', 1, { entries: [{ term: 1, index: 2, type: 'normal', data: new Uint8Array(0) }], snapshot: frozen })]);
  net.deliverAll();
  assert.is(r['b']!.received.length, 2);
  const [one, two] = r['b']!.received.map((x) => x.message as Message);
  assert.equal(one, two);
  assert.is.not(one!.entries, two!.entries);
  assert.is.not(one!.snapshot, two!.snapshot);
  assert.is.not(one!.snapshot, frozen);
  assert.is(one!.entries[0]!.data.byteLength, 0);
  assert.not.ok(Object.isFrozen(one!.snapshot), 'the receiver gets its own (unfrozen) copy, as with structuredClone');
});

test('unknown and removed peers are unreachable; snapshot status reported', async () => {
  const net = new MemoryNetwork({ seed: SEED, mode: 'manual' });
  const { t, r } = await cluster(net, ['a', 'b']);
  t['a']!.send('zz', [msg('a', 'zz', 1)]);
  const snap: Message = { ...msg('a', 'b', 1), type: 'snapshot', entries: [], snapshot: { meta: { index: 5, term: 1, confState: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array(1000) } };
  t['a']!.send('b', [snap]);
  net.deliverAll();
  assert.equal(r['a']!.unreachable, ['zz']);
  assert.equal(r['a']!.snapshots, [{ peer: 'b', delivered: true }]);
  assert.is((r['b']!.received[0]!.message as Message).snapshot?.data.byteLength, 1000);
  t['a']!.removePeer('b');
  t['a']!.send('b', [snap]);
  net.deliverAll();
  assert.equal(r['a']!.snapshots[1], { peer: 'b', delivered: false });
  t['a']!.addPeer('b', 'ignored');
  await t['b']!.stop();
  t['a']!.send('b', [msg('a', 'b', 3)]);
  net.deliverAll();
  assert.equal(r['a']!.unreachable, ['zz', 'b', 'b']);
  // A restarted member can attach again under the same id.
  const again = recorder();
  await memoryTransport(net).start('b', again);
  t['a']!.send('b', [msg('a', 'b', 4)]);
  net.deliverAll();
  assert.is(again.received.length, 1);
});

test('manual-only calls refuse realtime networks; attach twice refused', async () => {
  const net = new MemoryNetwork();
  assert.throws(() => net.step(), /manual/);
  await memoryTransport(net).start('x', recorder());
  let threw = false;
  try {
    await memoryTransport(net).start('x', recorder());
  } catch {
    threw = true;
  }
  assert.ok(threw);
});

test.run();
