// Proves a member survives peers that are broken or hostile at the handshake, each against a live
// member on 127.0.0.1 with an uncaughtException trap (a throw inside a socket listener is an
// uncaught exception, which would kill a real member): a peer whose upgrade answer carries a
// malformed `x-quorumkv-member` escape, or does not name itself at all, is refused without a
// throw; a snapshot stream header announcing a size no ArrayBuffer can hold allocates nothing up
// front (and a stream that does arrive is reassembled exactly); a TLS connection that never
// finishes its handshake is closed after handshakeTimeoutMs (Node's default holds it 120 s); and a
// plaintext dialer whose upgrade headers never end is dropped near handshakeTimeoutMs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import type { WsTransport } from '../../src/transport/ws-transport.ts';
import { WireCodec } from '../../src/transport/wire.ts';
import type { Message } from '../../src/protocol/types.ts';
import { capturingLogger, connectAsPeer, msg, recorder, silentPeer, transportFixture, waitFor } from './helpers.ts';

const { started, uncaught } = transportFixture(test.after);

test('a malformed member header in the upgrade answer is refused, not thrown', async () => {
  const url = await silentPeer(started, '%E0%A4%A');
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: url }, logger: log, reconnectBaseMs: 20, reconnectMaxMs: 50 });
  started.push(t);
  await t.start('n1', recorder());
  await waitFor(() => log.has(/cannot reach n2: reached member %E0%A4%A instead/), 'the dialer refuses the impostor');
  assert.equal(uncaught, [], 'no uncaught exception');
});

test('a server that does not name itself as a member is refused', async () => {
  const url = await silentPeer(started, undefined);
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: url }, logger: log, reconnectBaseMs: 20, reconnectMaxMs: 50 });
  started.push(t);
  await t.start('n1', recorder());
  await waitFor(() => log.has(/cannot reach n2: reached a server that does not name itself/), 'the dialer refuses the anonymous server');
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

test.run();
