// Shared helpers of the transport tests: message factories, a capturing logger, bounded waits
// and a recording handler. Not a test file itself.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '../../src/protocol/types.ts';
import { WIRE_FORMAT_VERSION } from '../../src/transport/wire.ts';
import type { Message, NodeId, PeerMessage } from '../../src/protocol/types.ts';
import type { TransportHandlers } from '../../src/transport/types.ts';
import type { TransportLogger } from '../../src/transport/logger.ts';

export function msg(from: NodeId, to: NodeId, index: number, extra: Partial<Message> = {}): Message {
  return {
    type: 'append',
    from,
    to,
    term: 1,
    logTerm: 1,
    index,
    entries: [{ term: 1, index: index + 1, type: 'normal', data: new Uint8Array([index & 0xff, 1, 2, 3]) }],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...extra,
  };
}

export interface LogLine {
  readonly level: string;
  readonly obj: object;
  readonly msg: string;
}

export function capturingLogger(echo = process.env['QKV_TEST_LOG'] === '1'): TransportLogger & { lines: LogLine[]; has(re: RegExp): boolean } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg: string) => {
    lines.push({ level, obj, msg });
    if (echo) console.log(level, msg);
  };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    has(re: RegExp): boolean {
      return lines.some((l) => re.test(l.msg));
    },
  };
}

export interface Recorder extends TransportHandlers {
  readonly received: { from: NodeId; message: PeerMessage }[];
  readonly unreachable: NodeId[];
  readonly snapshots: { peer: NodeId; delivered: boolean }[];
  readonly connectionLost: NodeId[];
}

export function recorder(): Recorder {
  const received: { from: NodeId; message: PeerMessage }[] = [];
  const unreachable: NodeId[] = [];
  const snapshots: { peer: NodeId; delivered: boolean }[] = [];
  const connectionLost: NodeId[] = [];
  return {
    received,
    unreachable,
    snapshots,
    connectionLost,
    onMessages(from, messages) {
      for (const message of messages) received.push({ from, message });
    },
    onUnreachable(peer) {
      unreachable.push(peer);
    },
    onSnapshotStatus(peer, delivered) {
      snapshots.push({ peer, delivered });
    },
    onConnectionLost(peer) {
      connectionLost.push(peer);
    },
  };
}

import { sleep, waitFor } from '../helpers/time.ts';
export { sleep, waitFor };

/**
 * A raw ws client that completes the peer handshake as member `peer` of n1's cluster (token
 * `secret`), for tests that then send hand-made frames.
 */
export function connectAsPeer(url: string, peer: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      headers: { 'x-quorumkv-protocol': String(PROTOCOL_VERSION), 'x-quorumkv-wire': String(WIRE_FORMAT_VERSION), 'x-quorumkv-from': peer, 'x-quorumkv-to': 'n1', 'x-quorumkv-token': 'secret' },
    });
    ws.on('error', () => {});
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', () => reject(new Error('handshake refused')));
  });
}

/** A fake "peer" that completes the WebSocket handshake naming itself `member` (or not at all), then stays silent (no pongs); its stop is pushed on `started`. */
export async function silentPeer(started: { stop(): Promise<void> }[], member: string | undefined): Promise<string> {
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

/**
 * The fixture of the ws tests that start transports and hostile peers: `started` is stopped
 * after each test, and `uncaught` collects uncaught exceptions (a throw inside a socket listener
 * would kill a real member), cleared after each test.
 */
export function transportFixture(after: { each(fn: () => Promise<void>): void }): { started: { stop(): Promise<void> }[]; uncaught: unknown[] } {
  const uncaught: unknown[] = [];
  process.on('uncaughtException', (err) => uncaught.push(err));
  const started: { stop(): Promise<void> }[] = [];
  after.each(async () => {
    await Promise.all(started.splice(0).map((t) => t.stop()));
    uncaught.length = 0;
  });
  return { started, uncaught };
}
