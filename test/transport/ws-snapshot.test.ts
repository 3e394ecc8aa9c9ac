// Proves snapshot streaming over the ws transport: a 50 MiB snapshot arrives intact in 256 KiB
// chunks with flow control (the sender's socket buffer never holds more than snapshotInflightBytes
// plus one chunk, and live memory — sampled after a forced GC — grows by the reassembled copy plus
// a small bounded overhead), ordinary messages keep flowing between chunks, the sender learns
// onSnapshotStatus(true), and a snapshot over the receiver's maxSnapshotBytes is refused
// (connection closed with a logged reason, status false). Two members on 127.0.0.1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import type { WsTransport, WsTransportOptions } from '../../src/transport/ws-transport.ts';
import type { Message } from '../../src/protocol/types.ts';
import { capturingLogger, msg, recorder, waitFor } from './helpers.ts';
import type { Recorder } from './helpers.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;
const INFLIGHT = 1024 * 1024;
const started: WsTransport[] = [];

async function pair(extraB: Partial<WsTransportOptions> = {}): Promise<{ a: WsTransport; ra: Recorder; b: WsTransport; rb: Recorder; logB: ReturnType<typeof capturingLogger> }> {
  const ra = recorder();
  const rb = recorder();
  const logB = capturingLogger();
  const a = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, logger: capturingLogger(), snapshotChunkBytes: CHUNK, snapshotInflightBytes: INFLIGHT });
  await a.start('n1', ra);
  const b = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n1: a.url() }, logger: logB, ...extraB });
  await b.start('n2', rb);
  a.addPeer('n2', b.url());
  started.push(a, b);
  await waitFor(() => a.stats().peers['n2']?.state === 'open', 'connected');
  return { a, ra, b, rb, logB };
}

function snapshotMessage(data: Uint8Array): Message {
  return { ...msg('n1', 'n2', 0), type: 'snapshot', entries: [], snapshot: { meta: { index: 1000, term: 3, confState: { voters: ['n1', 'n2'], learners: [] } }, data } };
}

test.after.each(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

test('50 MiB snapshot streams intact with bounded in-flight bytes and memory', async () => {
  const { a, ra, rb } = await pair();
  const size = 50 * MiB;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) data[i] = (i / 4096) & 0xff;
  data[size - 1] = 0xab;
  gc();
  const base = process.memoryUsage();
  let peakExternal = 0;
  let peakRss = 0;
  const sampler = setInterval(() => {
    gc(); // Live memory only: received chunk buffers are garbage once copied into the reassembly.
    const m = process.memoryUsage();
    peakExternal = Math.max(peakExternal, m.arrayBuffers - base.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss - base.rss);
  }, 20);
  const t0 = Date.now();
  a.send('n2', [snapshotMessage(data)]);
  // Heartbeat-sized traffic keeps flowing while the stream is in progress.
  const ticker = setInterval(() => a.send('n2', [msg('n1', 'n2', 1, { type: 'heartbeat', entries: [] })]), 2);
  try {
    await waitFor(() => ra.snapshots.length === 1, 'snapshot status', 30_000);
  } finally {
    clearInterval(ticker);
    clearInterval(sampler);
  }
  assert.equal(ra.snapshots, [{ peer: 'n2', delivered: true }]);
  const snapIndex = rb.received.findIndex((x) => x.message.type === 'snapshot');
  const got = (rb.received[snapIndex]!.message as Message).snapshot!;
  assert.is(got.data.byteLength, size);
  assert.is(got.data[size - 1], 0xab);
  assert.is(got.data[4096 * 7], 7);
  assert.equal(got.meta, { index: 1000, term: 3, confState: { voters: ['n1', 'n2'], learners: [] } });
  assert.ok(snapIndex > 0, `heartbeats were delivered before the snapshot completed (${snapIndex})`);
  const inflight = a.stats().peers['n2']!.maxSnapshotBufferedBytes;
  console.log(`transfer ${Date.now() - t0} ms; in-flight max ${(inflight / MiB).toFixed(2)} MiB; peak arrayBuffers growth ${(peakExternal / MiB).toFixed(1)} MiB; peak RSS growth ${(peakRss / MiB).toFixed(1)} MiB (payload ${size / MiB} MiB, one reassembled copy expected)`);
  assert.ok(inflight <= INFLIGHT + CHUNK + 64 * 1024, `sender in-flight ${inflight} bytes exceeds the budget`);
  // The reassembled copy is expected; the transport's own live overhead must stay small.
  assert.ok(peakExternal - size < 24 * MiB, `arrayBuffers grew ${(peakExternal / MiB).toFixed(1)} MiB beyond the reassembled copy`);
});

test('a snapshot over the receiver’s maxSnapshotBytes is refused and reported', async () => {
  const { a, ra, rb, logB } = await pair({ maxSnapshotBytes: MiB });
  a.send('n2', [snapshotMessage(new Uint8Array(2 * MiB))]);
  await waitFor(() => ra.snapshots.length === 1, 'snapshot status');
  assert.equal(ra.snapshots, [{ peer: 'n2', delivered: false }]);
  assert.ok(logB.has(/closing connection from n1: .*totalBytes/), 'receiver logged the reason');
  assert.is(rb.received.length, 0);
  // The link recovers for ordinary traffic.
  await waitFor(() => a.stats().peers['n2']?.state === 'open', 'reconnected', 5000);
  a.send('n2', [msg('n1', 'n2', 5)]);
  await waitFor(() => rb.received.length === 1, 'delivery after refusal', 5000);
});

test('a second snapshot while one is streaming is refused; small and empty snapshots work', async () => {
  const { a, ra, rb } = await pair();
  a.send('n2', [snapshotMessage(new Uint8Array(3 * MiB)), snapshotMessage(new Uint8Array(10))]);
  await waitFor(() => ra.snapshots.length === 2, 'both statuses');
  assert.equal(ra.snapshots, [{ peer: 'n2', delivered: false }, { peer: 'n2', delivered: true }]);
  a.send('n2', [snapshotMessage(new Uint8Array(0))]);
  await waitFor(() => ra.snapshots.length === 3, 'empty snapshot status');
  assert.equal(ra.snapshots[2], { peer: 'n2', delivered: true });
  assert.is(rb.received.filter((x) => x.message.type === 'snapshot').length, 2);
});

test.run();
