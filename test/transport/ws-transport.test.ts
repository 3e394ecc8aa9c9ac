// Proves the ws transport between live members on 127.0.0.1 (port 0): per-link FIFO delivery of
// batches, reconnect after a peer restarts on the same port, bounded outbound queues under a dead
// peer (connection refused) and a stalled peer (accepts, never reads) with onUnreachable called,
// stop() draining what was queued, onConnectionLost when a sending peer goes away, a peer that
// dials us cutting our reconnect backoff short, eager option validation, and the
// plaintext-loopback log line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import type { WsTransport, WsTransportOptions } from '../../src/transport/ws-transport.ts';
import type { Message } from '../../src/protocol/types.ts';
import { capturingLogger, msg, recorder, waitFor } from './helpers.ts';
import type { Recorder } from './helpers.ts';

type Member = { t: WsTransport; r: Recorder; log: ReturnType<typeof capturingLogger> };
const started: WsTransport[] = [];

async function member(id: string, peers: Record<string, string>, extra: Partial<WsTransportOptions> = {}, port = 0): Promise<Member> {
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port }, peers, token: 'secret', logger: log, reconnectBaseMs: 20, reconnectMaxMs: 200, ...extra });
  const r = recorder();
  await t.start(id, r);
  started.push(t);
  return { t, r, log };
}

async function pair(extra: Partial<WsTransportOptions> = {}): Promise<[Member, Member]> {
  const a = await member('n1', {}, extra);
  const b = await member('n2', { n1: a.t.url() }, extra);
  a.t.addPeer('n2', b.t.url());
  return [a, b];
}

test.after.each(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

const indexes = (r: Recorder): number[] => r.received.map((x) => (x.message as Message).index);

test('delivers batches in order per link, both directions, and logs plaintext loopback', async () => {
  const [a, b] = await pair();
  assert.ok(a.t.boundPort > 0);
  assert.ok(a.log.has(/plaintext peer traffic on loopback/));
  await waitFor(() => a.t.stats().peers['n2']?.state === 'open', 'n1 → n2 connected');
  for (let i = 0; i < 3000; i++) a.t.send('n2', [msg('n1', 'n2', i)]);
  const burst = Array.from({ length: 500 }, (_, i) => msg('n2', 'n1', i));
  b.t.send('n1', burst);
  await waitFor(() => b.r.received.length === 3000 && a.r.received.length === 500, 'all deliveries');
  assert.equal(indexes(b.r), [...Array(3000).keys()]);
  assert.equal(indexes(a.r), [...Array(500).keys()]);
  assert.ok(b.r.received.every((x) => x.from === 'n1' && x.message.to === 'n2'));
  assert.ok(a.t.stats().peers['n2']!.sentFrames < 100, 'sends in one tick are batched into few frames');
  const app = { type: 'app' as const, from: 'n1', to: 'n2', channel: 'lease', payload: new Uint8Array([1]) };
  a.t.send('n2', [app]);
  await waitFor(() => b.r.received.length === 3001, 'app message');
  assert.equal(b.r.received[3000]!.message, { ...app, payload: b.r.received[3000]!.message.type === 'app' ? b.r.received[3000]!.message.payload : app.payload });
});

test('reconnects after the peer restarts on the same port', async () => {
  const [a, b] = await pair();
  a.t.send('n2', [msg('n1', 'n2', 1)]);
  await waitFor(() => b.r.received.length === 1, 'first delivery');
  const port = b.t.boundPort;
  await b.t.stop();
  await waitFor(() => a.t.stats().peers['n2']?.state !== 'open', 'n1 notices');
  a.t.send('n2', [msg('n1', 'n2', 2)]);
  await waitFor(() => a.r.unreachable.includes('n2'), 'unreachable reported while down');
  const b2 = await member('n2', { n1: a.t.url() }, {}, port);
  await waitFor(() => a.t.stats().peers['n2']?.state === 'open', 'reconnected', 5000);
  a.t.send('n2', [msg('n1', 'n2', 3)]);
  await waitFor(() => b2.r.received.length === 1, 'delivery after restart');
  assert.is((b2.r.received[0]!.message as Message).index, 3);
  assert.ok(a.log.has(/reconnected to n2/));
});

test('a peer whose process goes away: the receiver hears its connection close (onConnectionLost)', async () => {
  const [a, b] = await pair();
  a.t.send('n2', [msg('n1', 'n2', 1)]);
  b.t.send('n1', [msg('n2', 'n1', 1)]);
  await waitFor(() => b.r.received.length === 1 && a.r.received.length === 1, 'both directions connected');
  assert.equal(b.r.connectionLost, []);
  await a.t.stop();
  await waitFor(() => b.r.connectionLost.includes('n1'), 'n2 hears n1 go away');
  assert.equal(a.r.connectionLost, [], 'a stopping member reports nothing itself');
});

test('a peer that comes back and dials us cuts our reconnect backoff short', async () => {
  const a = await member('n1', {}, { reconnectBaseMs: 1000, reconnectMaxMs: 5000 });
  const b = await member('n2', { n1: a.t.url() });
  a.t.addPeer('n2', b.t.url());
  a.t.send('n2', [msg('n1', 'n2', 1)]);
  await waitFor(() => b.r.received.length === 1, 'first delivery');
  const port = b.t.boundPort;
  await b.t.stop();
  // a keeps failing to reach n2: its backoff grows past a second.
  for (let i = 0; i < 3; i++) {
    a.t.send('n2', [msg('n1', 'n2', 2)]);
    await new Promise((r) => setTimeout(r, 700));
  }
  assert.is(a.t.stats().peers['n2']?.state, 'backoff');
  const b2 = await member('n2', { n1: a.t.url() }, {}, port);
  const back = Date.now();
  b2.t.send('n1', [msg('n2', 'n1', 1)]); // n2 dials n1: n1 now knows n2 is up
  await waitFor(() => a.r.received.length === 1, 'n2 → n1 delivered');
  await waitFor(() => a.t.stats().peers['n2']?.state === 'open', 'n1 → n2 open again', 900);
  assert.ok(Date.now() - back < 900, `n1 redialed ${Date.now() - back} ms after n2 came back`);
  a.t.send('n2', [msg('n1', 'n2', 3)]);
  await waitFor(() => b2.r.received.length === 1, 'delivery to the restarted peer');
});

test('dead peer (refused): queue stays empty-bounded and onUnreachable is called', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const deadPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const a = await member('n1', { n2: `ws://127.0.0.1:${deadPort}` }, { maxQueueMessages: 100, maxQueueBytes: 64 * 1024 });
  const before = process.memoryUsage().heapUsed;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 1000; i++) a.t.send('n2', [msg('n1', 'n2', i)]);
    const s = a.t.stats().peers['n2']!;
    assert.ok(s.queuedMessages <= 100, `queue bounded (${s.queuedMessages})`);
    assert.ok(s.queuedBytes <= 64 * 1024);
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(() => a.r.unreachable.includes('n2'), 'unreachable');
  assert.ok(a.t.stats().peers['n2']!.droppedMessages >= 49_000);
  assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024, 'heap growth bounded');
  assert.ok(a.log.has(/cannot reach n2/));
});

test('stalled peer (never reads): queue and socket buffer stay bounded, onUnreachable called', async () => {
  const sockets: Socket[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('headers', (headers) => headers.push('x-quorumkv-member: n2')); // dialers check who answered
  wss.on('connection', (ws, req) => {
    req.socket.pause(); // Accepts the handshake, then never reads: the TCP window fills up.
    sockets.push(req.socket);
    ws.on('error', () => {});
  });
  await new Promise<void>((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  const limits = { maxQueueMessages: 2000, maxQueueBytes: 1024 * 1024, maxBufferedBytes: 2 * 1024 * 1024 };
  const a = await member('n1', { n2: `ws://127.0.0.1:${port}` }, limits);
  await waitFor(() => a.t.stats().peers['n2']?.state === 'open', 'connected to the stalled peer');
  const big = new Uint8Array(4000);
  for (let round = 0; round < 200 && !a.r.unreachable.includes('n2'); round++) {
    for (let i = 0; i < 100; i++) a.t.send('n2', [msg('n1', 'n2', i, { entries: [{ term: 1, index: 1, type: 'normal', data: big }] })]);
    await new Promise((r) => setTimeout(r, 1));
  }
  await waitFor(() => a.r.unreachable.includes('n2'), 'unreachable once the queue is full');
  const s = a.t.stats().peers['n2']!;
  assert.ok(s.queuedBytes <= limits.maxQueueBytes, `queued ${s.queuedBytes}`);
  assert.ok(s.bufferedBytes <= limits.maxBufferedBytes + 1024 * 1024 + 64 * 1024, `socket buffer ${s.bufferedBytes}`);
  assert.ok(s.droppedMessages > 0);
  for (const sock of sockets) sock.destroy();
  await new Promise<void>((r) => wss.close(() => r()));
});

test('stop() drains queued messages before closing; idempotent', async () => {
  const [a, b] = await pair();
  await waitFor(() => a.t.stats().peers['n2']?.state === 'open', 'connected');
  for (let i = 0; i < 2000; i++) a.t.send('n2', [msg('n1', 'n2', i)]);
  const stopping = a.t.stop();
  assert.is(a.t.stop(), stopping);
  await stopping;
  await waitFor(() => b.r.received.length === 2000, 'drained deliveries');
  a.t.send('n2', [msg('n1', 'n2', 1)]); // After stop: ignored, never throws.
});

test('unknown peer is unreachable; options are validated eagerly', async () => {
  const a = await member('n1', {});
  a.t.send('n9', [msg('n1', 'n9', 1)]);
  await waitFor(() => a.r.unreachable.includes('n9'), 'unknown peer unreachable');
  assert.throws(() => wsTransport({ listen: { host: '127.0.0.1', port: 70000 }, peers: {} }), /listen.port/);
  assert.throws(() => wsTransport({ listen: { host: '127.0.0.1', port: 0 }, maxQueueBytes: 0 }), /maxQueueBytes/);
  assert.throws(() => wsTransport({ listen: { host: '127.0.0.1', port: 0 }, maxPayloadBytes: 100_000, maxBatchBytes: 1_000_000 }), /maxBatchBytes/);
});

test('a peer URL with the wrong scheme is reported, not dialed', async () => {
  const a = await member('n1', { n2: 'wss://127.0.0.1:1' });
  a.t.send('n2', [msg('n1', 'n2', 1)]);
  await waitFor(() => a.r.unreachable.includes('n2'), 'unreachable');
  assert.ok(a.log.has(/wss:\/\/ but this member has no tls options/));
});

test('removePeer closes and refuses the peer; addPeer with a new URL re-dials', async () => {
  const [a, b] = await pair();
  a.t.send('n2', [msg('n1', 'n2', 1)]);
  await waitFor(() => b.r.received.length === 1, 'first delivery');
  b.t.removePeer('n1');
  await waitFor(() => b.log.has(/claims n1\): unknown member id n1/), 'n2 refuses the removed member', 5000);
  a.t.send('n2', [msg('n1', 'n2', 2)]);
  await new Promise((r) => setTimeout(r, 50));
  assert.is(b.r.received.length, 1, 'nothing from a removed peer');
  assert.equal(b.r.connectionLost, [], 'closing a removed peer\'s connection is no hint');
  const c = await member('n2', { n1: a.t.url() });
  a.t.addPeer('n2', c.t.url());
  await waitFor(() => a.t.stats().peers['n2']?.state === 'open', 'dialed the new address');
  a.t.send('n2', [msg('n1', 'n2', 3)]);
  await waitFor(() => c.r.received.length === 1, 'delivery to the new address');
});

test.run();
