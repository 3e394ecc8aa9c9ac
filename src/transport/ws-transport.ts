/**
 * The network transport (docs/design.md, "Transport") on `ws`: one connection per ordered pair, dialed by the
 * sender (see peer-link.ts for why), msgpackr-framed batches with a fixed structure table
 * (wire.ts), and a handshake on the HTTP upgrade that checks the protocol and wire versions, the
 * cluster token (constant time), that the sender is a known member, and — with TLS — that the
 * sender's certificate from the cluster CA names the member id it claims.
 */
import { createServer as createHttpServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { createHash, timingSafeEqual } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { NodeId, PeerMessage } from '../protocol/types.ts';
import { MAX_NODE_ID_BYTES, PROTOCOL_VERSION } from '../protocol/types.ts';
import { InvalidArgumentError } from '../errors.ts';
import type { Transport, TransportHandlers } from './types.ts';
import type { WsConfig, WsTransportOptions } from './ws-options.ts';
import { isLoopbackHost, normalizeWsOptions } from './ws-options.ts';
import type { LinkStats } from './peer-link.ts';
import { HEADER_FROM, HEADER_MEMBER, HEADER_PROTOCOL, HEADER_REJECT, HEADER_TO, HEADER_TOKEN, HEADER_WIRE, PeerLink } from './peer-link.ts';
import { InboundConnection } from './inbound-connection.ts';
import { WIRE_FORMAT_VERSION, WireCodec } from './wire.ts';
import { certificateMemberNames, certificateNamesMember } from './tls-identity.ts';
import { logError } from './logger.ts';

/** Where the peer listener serves the member list (etcd's peer `/members`). */
export const MEMBERS_PATH = '/members';

export type { WsTransportOptions, WsTlsOptions } from './ws-options.ts';

export interface WsTransportStats {
  readonly peers: Readonly<Record<NodeId, LinkStats>>;
  readonly inboundConnections: number;
  readonly rejectedConnections: number;
  readonly rejectedFrames: number;
  readonly receivedMessages: number;
}

class Rejection {
  readonly status: number;
  /** What the logs say (specific). */
  readonly reason: string;
  /** What the unauthenticated dialer is told (generic for credential failures). */
  readonly publicReason: string;
  constructor(status: number, reason: string, publicReason = reason) {
    this.status = status;
    this.reason = reason;
    this.publicReason = publicReason;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (typeof v !== 'string') return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return undefined;
  }
}

export class WsTransport implements Transport {
  readonly #config: WsConfig;
  readonly #codec = new WireCodec();
  readonly #peers = new Map<NodeId, string>();
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #inbound = new Map<NodeId, InboundConnection>();
  readonly #tokenHash: Buffer;
  /** The member list served at `GET /members` (see Transport.setMemberDirectory). */
  #directory: (() => string) | undefined;
  readonly #pendingUnreachable = new Set<NodeId>();
  #self: NodeId = '';
  #handlers: TransportHandlers | undefined;
  #server: Server | undefined;
  #wss: WebSocketServer | undefined;
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopPromise: Promise<void> | undefined;
  #listening: Promise<void> | undefined;
  #rejectedConnections = 0;
  #rejectedFrames = 0;
  #receivedMessages = 0;

  constructor(options: WsTransportOptions) {
    this.#config = normalizeWsOptions(options);
    this.#tokenHash = sha256(this.#config.token);
    for (const [id, url] of Object.entries(this.#config.peers)) this.#peers.set(id, url);
  }

  /** The port the listener is bound to (useful with `listen.port: 0`); 0 before `start()`. */
  get boundPort(): number {
    return this.address().port;
  }

  /** The listener's address; `{ host, port: 0 }` before `start()`. */
  address(): { host: string; port: number } {
    const addr = this.#server?.address();
    if (addr !== null && typeof addr === 'object') return { host: addr.address, port: addr.port };
    return { host: this.#config.host, port: 0 };
  }

  /** This member's `ws://` or `wss://` URL as peers should dial it (after `start()`). */
  url(): string {
    const { port } = this.address();
    const host = this.#config.host.includes(':') ? `[${this.#config.host}]` : this.#config.host;
    return `${this.#config.tls ? 'wss' : 'ws'}://${host}:${port}`;
  }

  stats(): WsTransportStats {
    const peers: Record<NodeId, LinkStats> = {};
    for (const [id, link] of this.#links) peers[id] = link.stats();
    return {
      peers,
      inboundConnections: this.#inbound.size,
      rejectedConnections: this.#rejectedConnections,
      rejectedFrames: this.#rejectedFrames,
      receivedMessages: this.#receivedMessages,
    };
  }

  async start(self: NodeId, handlers: TransportHandlers): Promise<void> {
    if (this.#state !== 'new') throw new InvalidArgumentError('transport: ws transport can be started once');
    if (typeof self !== 'string' || self.length === 0 || Buffer.byteLength(self) > MAX_NODE_ID_BYTES) {
      throw new InvalidArgumentError(`transport: member id must be 1..${MAX_NODE_ID_BYTES} bytes`);
    }
    this.#state = 'starting';
    this.#self = self;
    this.#handlers = handlers;
    const server = this.#createServer();
    this.#server = server;
    this.#listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#config.port, this.#config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await this.#listening;
    server.on('error', (err) => logError(this.#config.logger, { err: err.message }, `transport: listener error: ${err.message}`));
    this.#state = 'running';
    this.#logSecurityPosture();
    for (const [id, url] of this.#peers) if (id !== self) this.#links.set(id, new PeerLink(this.#linkEnv(), id, url));
  }

  send(to: NodeId, messages: readonly PeerMessage[]): void {
    if (this.#state !== 'running' || messages.length === 0) return;
    const link = this.#links.get(to);
    if (link === undefined) {
      for (const m of messages) if (m.type === 'snapshot') this.#snapshotStatus(to, false);
      this.#unreachable(to);
      return;
    }
    link.send(messages);
  }

  setMemberDirectory(directory: () => string): void {
    this.#directory = directory;
  }

  addPeer(id: NodeId, address: string): void {
    if (id === this.#self) return;
    this.#peers.set(id, address);
    if (this.#state !== 'running') return;
    const link = this.#links.get(id);
    if (link === undefined) this.#links.set(id, new PeerLink(this.#linkEnv(), id, address));
    else link.setUrl(address);
  }

  removePeer(id: NodeId): void {
    this.#peers.delete(id);
    this.#links.get(id)?.close();
    this.#links.delete(id);
    this.#inbound.get(id)?.close(1000, 'member removed');
    this.#inbound.delete(id);
  }

  stop(): Promise<void> {
    this.#stopPromise ??= this.#stop();
    return this.#stopPromise;
  }

  async #stop(): Promise<void> {
    // A stop() during start() waits for the listener: closing a server whose listen() is still
    // pending does nothing, and start() would then bring the transport up after it was stopped.
    if (this.#state === 'starting') await this.#listening?.catch(() => undefined);
    const wasRunning = this.#state === 'running';
    this.#state = 'stopping';
    if (wasRunning) {
      const deadline = Date.now() + this.#config.drainTimeoutMs;
      await Promise.all([...this.#links.values()].map((link) => link.drain(deadline)));
    }
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    for (const conn of this.#inbound.values()) conn.close(1001, 'member stopping');
    this.#inbound.clear();
    const server = this.#server;
    if (server !== undefined) {
      this.#wss?.clients.forEach((ws) => ws.terminate());
      this.#wss?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    this.#state = 'stopped';
  }

  #linkEnv(): ConstructorParameters<typeof PeerLink>[0] {
    return {
      self: this.#self,
      config: this.#config,
      codec: this.#codec,
      unreachable: (peer) => this.#unreachable(peer),
      snapshotStatus: (peer, delivered) => this.#snapshotStatus(peer, delivered),
    };
  }

  /** Deferred and coalesced per tick, so Raft is never re-entered from inside `send()`. */
  #unreachable(peer: NodeId): void {
    if (this.#pendingUnreachable.has(peer)) return;
    this.#pendingUnreachable.add(peer);
    queueMicrotask(() => {
      this.#pendingUnreachable.delete(peer);
      if (this.#state === 'running') this.#handlers?.onUnreachable(peer);
    });
  }

  #snapshotStatus(peer: NodeId, delivered: boolean): void {
    queueMicrotask(() => {
      if (this.#state === 'running') this.#handlers?.onSnapshotStatus?.(peer, delivered);
    });
  }

  #createServer(): Server {
    const cfg = this.#config;
    // Node enforces headersTimeout/requestTimeout only when it sweeps its connections, every
    // 30 s by default: sweep often enough that a silent or trickling dialer is dropped close to
    // handshakeTimeoutMs, not up to 30 s later (each one holds one of maxConnections).
    const http = { connectionsCheckingInterval: Math.min(1000, cfg.handshakeTimeoutMs) };
    const server: Server =
      cfg.tls === undefined
        ? createHttpServer(http)
        : createHttpsServer({
            ...http,
            cert: cfg.tls.cert,
            key: cfg.tls.key,
            ca: cfg.tls.ca as string | Buffer | (string | Buffer)[],
            requestCert: true,
            rejectUnauthorized: true,
            // Node's default is 120 s: a dialer that opens TCP and never finishes TLS would hold
            // one of maxConnections that long. Bound pending TLS handshakes like HTTP ones.
            handshakeTimeout: cfg.handshakeTimeoutMs,
          });
    server.maxConnections = cfg.maxConnections;
    server.headersTimeout = cfg.handshakeTimeoutMs;
    server.requestTimeout = cfg.handshakeTimeoutMs;
    server.maxHeadersCount = 64;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.#rejectedConnections++;
      const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      const plaintext = /http request/i.test(err.message);
      const reason = plaintext ? 'plaintext connection to a TLS member' : `untrusted, missing or invalid client certificate (${err.message})`;
      cfg.logger.warn({ remote, reason: err.message }, `transport: rejected connection from ${remote}: TLS handshake failed: ${reason}`);
      // Node does not close the socket after a TLS error (a handshake timeout included).
      socket.destroy();
    });
    server.on('clientError', (err: Error, socket: Duplex) => {
      cfg.logger.debug?.({ reason: err.message }, `transport: bad HTTP request on the peer listener: ${err.message}`);
      socket.destroy();
    });
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: cfg.maxPayloadBytes, clientTracking: true });
    wss.on('headers', (headers) => headers.push(`${HEADER_MEMBER}: ${encodeURIComponent(this.#self)}`));
    this.#wss = wss;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    return server;
  }

  /**
   * Plain HTTP on the peer listener: only `GET /members` (the member list a joining member reads
   * to find its id), to a caller that presents the cluster token; everything else wants the
   * WebSocket upgrade (426).
   */
  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const directory = this.#directory;
    if (req.method !== 'GET' || req.url !== MEMBERS_PATH || directory === undefined || this.#state !== 'running') {
      res.writeHead(426, { connection: 'close' }).end();
      return;
    }
    const token = header(req, HEADER_TOKEN) ?? '';
    if (!timingSafeEqual(sha256(token), this.#tokenHash)) {
      this.#rejectedConnections++;
      res.writeHead(401, { connection: 'close' }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end(directory());
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const claimed = header(req, HEADER_FROM);
    const rejection = this.#authenticate(req, claimed);
    if (rejection !== undefined || claimed === undefined) {
      const r = rejection ?? new Rejection(400, 'missing sender id');
      this.#rejectedConnections++;
      // Unauthenticated input: printable and short before it reaches a log line.
      const shown = (claimed ?? '?').slice(0, 80).replace(/[^\x20-\x7e]/g, '?');
      const reasonShown = r.reason.slice(0, 300).replace(/[^\x20-\x7e]/g, '?');
      this.#config.logger.warn({ remote, claimed: shown, reason: reasonShown }, `transport: rejected peer connection from ${remote} (claims ${shown}): ${reasonShown}`);
      const reason = r.publicReason.replace(/[^\x20-\x7e]/g, '?');
      socket.end(`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\nConnection: close\r\n${HEADER_REJECT}: ${reason}\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 100).unref();
      return;
    }
    const wss = this.#wss;
    if (wss === undefined) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.#state !== 'running' || !this.#peers.has(claimed)) {
        ws.terminate();
        return;
      }
      this.#inbound.get(claimed)?.close(1000, 'replaced by a newer connection');
      const conn = new InboundConnection(
        {
          self: this.#self,
          config: this.#config,
          codec: this.#codec,
          deliver: (from, messages) => this.#deliver(conn, from, messages),
          rejectedFrame: (peer, reason) => {
            this.#rejectedFrames++;
            const why = reason.replace(/^transport: /, '');
            logError(this.#config.logger, { peer, reason: why }, `transport: closing connection from ${peer}: ${why}`);
          },
        },
        claimed,
        ws,
      );
      this.#inbound.set(claimed, conn);
      this.#links.get(claimed)?.peerIsUp();
      ws.on('close', () => {
        if (this.#inbound.get(claimed) !== conn) return; // replaced by a newer connection
        this.#inbound.delete(claimed);
        if (this.#state === 'running' && this.#peers.has(claimed)) this.#handlers?.onConnectionLost?.(claimed);
      });
    });
  }

  /** The handshake checks, cheapest first; undefined means accepted. */
  #authenticate(req: IncomingMessage, claimed: string | undefined): Rejection | undefined {
    if (this.#state !== 'running') return new Rejection(503, 'member is stopping');
    const protocol = req.headers[HEADER_PROTOCOL];
    const wire = req.headers[HEADER_WIRE];
    if (protocol !== String(PROTOCOL_VERSION) || wire !== String(WIRE_FORMAT_VERSION)) {
      return new Rejection(400, `protocol version mismatch: peer speaks protocol ${String(protocol)} wire ${String(wire)}, this member protocol ${PROTOCOL_VERSION} wire ${WIRE_FORMAT_VERSION}`);
    }
    const to = header(req, HEADER_TO);
    if (to !== this.#self) return new Rejection(421, `connection meant for member ${String(to)}, this is ${this.#self}`);
    const token = header(req, HEADER_TOKEN) ?? '';
    if (!timingSafeEqual(sha256(token), this.#tokenHash)) return new Rejection(401, 'wrong cluster token', 'unauthenticated');
    if (claimed === undefined || claimed.length === 0 || Buffer.byteLength(claimed) > MAX_NODE_ID_BYTES) return new Rejection(400, 'missing or invalid sender id');
    if (claimed === this.#self || !this.#peers.has(claimed)) return new Rejection(403, `unknown member id ${claimed}`, 'unauthenticated');
    if (this.#config.tls !== undefined) {
      const tlsSocket = req.socket as TLSSocket;
      if (!tlsSocket.authorized) return new Rejection(403, `untrusted client certificate: ${String(tlsSocket.authorizationError)}`, 'unauthenticated');
      const cert = tlsSocket.getPeerCertificate();
      if (!certificateNamesMember(cert, claimed)) {
        return new Rejection(403, `certificate names [${certificateMemberNames(cert).join(', ')}], not the claimed member ${claimed}`, 'unauthenticated');
      }
    }
    return undefined;
  }

  #deliver(conn: InboundConnection, from: NodeId, messages: readonly PeerMessage[]): void {
    if (this.#state !== 'running' || this.#inbound.get(from) !== conn) return;
    this.#receivedMessages += messages.length;
    this.#handlers?.onMessages(from, messages);
  }

  #logSecurityPosture(): void {
    const { logger, tls, host, token } = this.#config;
    const where = `${host}:${this.boundPort}`;
    if (tls !== undefined) {
      logger.info({ listen: where }, `transport: listening on wss://${where} with mutual TLS`);
    } else if (isLoopbackHost(host)) {
      logger.warn({ listen: where }, `transport: plaintext peer traffic on loopback ${where}: development only, configure tls for real networks`);
    } else {
      logger.warn({ listen: where }, `transport: plaintext peer traffic on non-loopback ${where}: messages are neither encrypted nor certificate-authenticated${token ? '' : ', and no cluster token is set'}`);
    }
  }
}

/** A {@link Transport} over WebSockets. See {@link WsTransportOptions} for limits and defaults. */
export function wsTransport(options: WsTransportOptions): WsTransport {
  return new WsTransport(options);
}
