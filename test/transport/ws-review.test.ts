// Proves fixes from the transport review, each against a live member on 127.0.0.1 with an
// uncaughtException trap (a throw inside a socket listener is an uncaught exception, which would
// kill a real member): a peer URL whose server answers the upgrade with a malformed
// `x-quorumkv-member` escape is refused without an uncaught exception, and one that does not name
// itself at all is refused too; messages queued while connecting are reported unreachable when
// the peer's address changes (never dropped silently); an outbound connection
// to a peer that completed the handshake and then went silent is closed once its pings go
// unanswered for pingTimeoutMs, then redialed; a snapshot stream header
// announcing a size no ArrayBuffer can hold (allowed by a large maxSnapshotBytes) allocates
// nothing up front, so it neither throws nor stops the connection, and a stream that does arrive
// is reassembled exactly; and a TLS listener closes a connection that never finishes its TLS
// handshake within handshakeTimeoutMs (Node's default would hold it 120 s), and a plaintext
// dialer whose upgrade headers never end is dropped near handshakeTimeoutMs (Node sweeps only
// every 30 s by default); and a stop() issued
// while start() is still binding leaves no listener or outbound link behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import type { WsTransport } from '../../src/transport/ws-transport.ts';
import { WireCodec } from '../../src/transport/wire.ts';
import type { Message } from '../../src/protocol/types.ts';
import { capturingLogger, connectAsPeer, msg, recorder, waitFor } from './helpers.ts';

const uncaught: unknown[] = [];
process.on('uncaughtException', (err) => uncaught.push(err));

const started: { stop(): Promise<void> }[] = [];
test.after.each(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
  uncaught.length = 0;
});


/** A fake "peer" that completes the WebSocket handshake naming itself `member` (or not at all), then stays silent (no pongs). */
async function silentPeer(member: string | undefined): Promise<string> {
  const fake = createServer();
  const sockets = new Set<Duplex>();
  fake.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('data', () => {}); // reads and ignores every frame, pings included
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${member === undefined ? '' : `x-quorumkv-member: ${member}\r\n`}\r\n`);
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  started.push({
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        fake.close(() => resolve());
      }),
  });
  return `ws://127.0.0.1:${(fake.address() as AddressInfo).port}`;
}

test('a malformed member header in the upgrade answer is refused, not thrown', async () => {
  const url = await silentPeer('%E0%A4%A');
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: url }, logger: log, reconnectBaseMs: 20, reconnectMaxMs: 50 });
  started.push(t);
  await t.start('n1', recorder());
  await waitFor(() => log.has(/cannot reach n2: reached member %E0%A4%A instead/), 'the dialer refuses the impostor');
  assert.equal(uncaught, [], 'no uncaught exception');
});

test('a server that does not name itself as a member is refused', async () => {
  const url = await silentPeer(undefined);
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: url }, logger: log, reconnectBaseMs: 20, reconnectMaxMs: 50 });
  started.push(t);
  await t.start('n1', recorder());
  await waitFor(() => log.has(/cannot reach n2: reached a server that does not name itself/), 'the dialer refuses the anonymous server');
});

test('messages queued while connecting are reported unreachable when the address changes', async () => {
  // A TCP listener that never answers the upgrade keeps the link 'connecting', so sends queue up.
  const sockets = new Set<Socket>();
  const mute = createNetServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  started.push({
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        mute.close(() => resolve());
      }),
  });
  const rec = recorder();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: `ws://127.0.0.1:${(mute.address() as AddressInfo).port}` }, logger: capturingLogger() });
  started.push(t);
  await t.start('n1', rec);
  await waitFor(() => t.stats().peers['n2']?.state === 'connecting', 'the link to be connecting');
  t.send('n2', [msg('n1', 'n2', 1), msg('n1', 'n2', 2)]);
  assert.is(t.stats().peers['n2']?.queuedMessages, 2);
  t.addPeer('n2', 'ws://127.0.0.1:1');
  await waitFor(() => rec.unreachable.includes('n2'), 'n2 to be reported unreachable', 2000);
  assert.is(t.stats().peers['n2']?.droppedMessages, 2);
});

test('an outbound connection whose peer stops answering pings is closed and redialed', async () => {
  const url = await silentPeer('n2');
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: url }, logger: log, pingIntervalMs: 50, pingTimeoutMs: 200, reconnectBaseMs: 20, reconnectMaxMs: 50 });
  started.push(t);
  await t.start('n1', recorder());
  await waitFor(() => t.stats().peers['n2']?.state === 'open', 'the connection to open');
  await waitFor(() => log.has(/cannot reach n2: no answer to pings for 200 ms/), 'the dead connection to be noticed', 3000);
  await waitFor(() => t.stats().peers['n2']?.state === 'open', 'the link to redial');
});

test('a huge announced snapshot allocates nothing up front; a real stream still reassembles', async () => {
  const log = capturingLogger();
  const rec = recorder();
  const t: WsTransport = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: 'ws://127.0.0.1:1' }, token: 'secret', logger: log, reconnectBaseMs: 1000, maxSnapshotBytes: 2 ** 50 });
  started.push(t);
  await t.start('n1', rec);
  const ws = await connectAsPeer(t.url(), 'n2');
  const codec = new WireCodec();
  const snap = (size: number): Message => ({ ...msg('n2', 'n1', 1), type: 'snapshot', entries: [], snapshot: { meta: { index: 9, term: 1, confState: { voters: ['n1', 'n2'], learners: [] } }, data: new Uint8Array(size) } });
  // 2^50 bytes: a `new Uint8Array(totalBytes)` here throws RangeError inside the ws listener.
  ws.send(codec.encodeSnapshotBegin(1, snap(0), 2 ** 50));
  ws.send(codec.encodeBatch([msg('n2', 'n1', 5, { type: 'heartbeat', entries: [] })]));
  await waitFor(() => rec.received.length === 1 || uncaught.length > 0, 'the probe after the header');
  assert.equal(uncaught, [], 'no uncaught exception');
  assert.is(t.stats().rejectedFrames, 0, 'the connection stayed open');
  ws.close();
  // A fresh connection replaces the half-sent stream; a real one arrives byte for byte.
  const ws2 = await connectAsPeer(t.url(), 'n2');
  const data = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
  ws2.send(codec.encodeSnapshotBegin(2, snap(0), data.byteLength));
  ws2.send(codec.encodeSnapshotChunk(2, 0, data.subarray(0, 300)));
  ws2.send(codec.encodeSnapshotChunk(2, 300, data.subarray(300)));
  ws2.send(codec.encodeSnapshotEnd(2));
  await waitFor(() => rec.received.some((r) => r.message.type === 'snapshot'), 'the snapshot');
  const got = rec.received.find((r) => r.message.type === 'snapshot')?.message;
  assert.ok(got !== undefined && got.type === 'snapshot');
  assert.equal(Array.from(got.snapshot?.data ?? []), Array.from(data));
  ws2.close();
});

test('a TLS connection that never handshakes is closed after handshakeTimeoutMs', async () => {
  const dir = new URL('../fixtures/tls/', import.meta.url);
  const pem = (name: string): Buffer => readFileSync(new URL(name, dir));
  const tls = { cert: pem('n1.crt'), key: pem('n1.key'), ca: pem('ca.crt') };
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: {}, tls, logger: capturingLogger(), handshakeTimeoutMs: 300 });
  started.push(t);
  await t.start('n1', recorder());
  const sock = netConnect(t.boundPort, '127.0.0.1');
  sock.on('error', () => {});
  const t0 = Date.now();
  let closed = false;
  sock.on('close', () => {
    closed = true;
  });
  try {
    await waitFor(() => closed, 'the silent TLS connection to be closed', 4000);
  } finally {
    sock.destroy();
  }
  assert.ok(Date.now() - t0 < 4000);
});

test('a dialer that never sends its upgrade request is dropped near handshakeTimeoutMs', async () => {
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: {}, logger: capturingLogger(), handshakeTimeoutMs: 300 });
  started.push(t);
  await t.start('n1', recorder());
  const sock = netConnect(t.boundPort, '127.0.0.1');
  sock.on('error', () => {});
  sock.on('data', () => {}); // reads, so the server's close is seen
  let closed = false;
  sock.on('close', () => (closed = true));
  sock.write('GET / HTTP/1.1\r\nhost: x\r\n'); // headers that never end
  try {
    await waitFor(() => closed, 'the silent dialer to be dropped', 3000);
  } finally {
    sock.destroy();
  }
});

test('stop() during start() leaves nothing listening or dialing', async () => {
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: 'ws://127.0.0.1:1' }, logger: capturingLogger() });
  const starting = t.start('n1', recorder());
  const stopping = t.stop();
  await starting;
  await stopping;
  assert.equal(t.stats().peers, {}, 'no outbound link left');
  assert.is(t.boundPort, 0, 'the listener is closed');
});

test.run();
