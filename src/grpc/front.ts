/**
 * One port for HTTP/1.1 and HTTP/2 cleartext, as etcd's client URL: a plain TCP listener that
 * reads a connection's first bytes and hands the socket on — to the gRPC endpoint when they are
 * the HTTP/2 client preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, sent first by h2c
 * prior-knowledge clients: etcdctl, grpc-go, grpc-js), to the HTTP/1.1 server otherwise. The
 * HTTP/1.1 server gets the socket with the peeked bytes put back (`unshift`). node:http2 reads
 * a net.Socket's native handle directly, past anything unshifted, so it gets a {@link
 * PrefixedSocket} instead: a Duplex that replays the peeked bytes, then relays the socket. Every
 * HTTP/2 connection, cleartext or TLS, goes through one, which also rewrites the `:authority`
 * etcdctl 3.4 sends as a URL (authority-rewrite.ts).
 */
import { createServer } from 'node:net';
import { AuthorityRewriter } from './authority-rewrite.ts';
import type { Server, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket, TlsOptions } from 'node:tls';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** A client that sends nothing for this long is dropped before it is routed, in ms. */
export const FIRST_BYTES_TIMEOUT_MS = 10_000;

/** Whether `head` (the first bytes seen) is, so far, the HTTP/2 preface; undefined while undecided. */
export function isHttp2Preface(head: Buffer): boolean | undefined {
  const n = Math.min(head.length, PREFACE.length);
  if (head.subarray(0, n).compare(PREFACE, 0, n) !== 0) return false;
  return n === PREFACE.length ? true : undefined;
}

/** A socket's stream with `head` (bytes already read from it) in front. */
export class PrefixedSocket extends Duplex {
  readonly #socket: Socket;

  constructor(socket: Socket, head: Buffer) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    // etcdctl's `http://…` authorities, which nghttp2 refuses (authority-rewrite.ts).
    const rewriter = new AuthorityRewriter();
    const relay = (chunk: Buffer): boolean => {
      let more = true;
      for (const part of rewriter.feed(chunk)) more = this.push(part);
      return more;
    };
    relay(head);
    socket.on('data', (chunk: Buffer) => {
      if (!relay(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#socket.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#socket.end(() => callback());
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#socket.destroy();
    callback(err);
  }
}

/** Routes one accepted socket by its first bytes. */
export function routeSocket(socket: Socket, onHttp2: (s: Duplex) => void, onHttp1: (s: Socket) => void): void {
  let head = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), FIRST_BYTES_TIMEOUT_MS);
  timer.unref();
  const onError = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const verdict = isHttp2Preface(head);
    if (verdict === undefined) return;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.pause();
    if (verdict) {
      socket.setNoDelay(true);
      onHttp2(new PrefixedSocket(socket, head));
    } else {
      socket.unshift(head);
      onHttp1(socket);
    }
    socket.resume();
  };
  socket.on('data', onData);
  socket.on('error', onError);
}

/**
 * A listener in front of `http1` (an `http.Server` that is not listening itself): HTTP/2 sockets
 * go to `onHttp2`, the rest to `http1` as if it had accepted them. With `tls`, the listener
 * terminates TLS and routes by ALPN instead: `h2` to `onHttp2`, `http/1.1` (or none) to `http1`.
 */
export function createPortFront(http1: { emit(event: 'connection', socket: Socket): boolean }, onHttp2: (socket: Duplex) => void, tls?: TlsOptions): Server {
  if (tls === undefined) return createServer((socket) => routeSocket(socket, onHttp2, (s) => http1.emit('connection', s)));
  // gRPC clients (grpc-go, grpc-js) offer only `h2`; HTTP clients of the JSON gateway that can do
  // both (curl, browsers) get `http/1.1`, which the gateway serves.
  const alpn = ({ protocols }: { readonly protocols: readonly string[] }): string | undefined =>
    protocols.includes('http/1.1') ? 'http/1.1' : protocols.includes('h2') ? 'h2' : undefined;
  const server = createTlsServer({ ...tls, ALPNCallback: alpn }, (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') {
      socket.setNoDelay(true);
      onHttp2(new PrefixedSocket(socket, Buffer.alloc(0)));
    } else http1.emit('connection', socket);
  });
  // Node leaves the socket open after a TLS error (a handshake timeout included): close it.
  server.on('tlsClientError', (_err: Error, socket: { destroy(): void }) => socket.destroy());
  return server;
}
