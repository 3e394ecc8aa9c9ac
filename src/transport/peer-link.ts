/**
 * One outbound connection: this member → one peer. Every member dials each peer for its own
 * outbound traffic and only accepts inbound traffic on the connections peers dial, so there is
 * exactly one owner per connection: no dial races, and reconnecting is this link's job alone.
 *
 * Messages wait in a bounded queue (bytes and count) while the socket is busy or still
 * connecting; past either bound, or while the peer is known to be down, they are dropped and
 * Raft is told the peer is unreachable. Snapshots stream in chunks interleaved with ordinary
 * batches, so heartbeats keep flowing during a long transfer.
 */
import WebSocket from 'ws';
import type { ClientOptions } from 'ws';
import type { PeerCertificate } from 'node:tls';
import type { Message, NodeId, PeerMessage } from '../protocol/types.ts';
import { PROTOCOL_VERSION } from '../protocol/types.ts';
import { ProtocolError } from '../errors.ts';
import type { WsConfig } from './ws-options.ts';
import { FRAME_OVERHEAD_BYTES, isLoopbackHost } from './ws-options.ts';
import type { WireCodec } from './wire.ts';
import { WIRE_FORMAT_VERSION, estimateMessageBytes } from './wire.ts';
import { certificateMemberNames, certificateNamesMember } from './tls-identity.ts';
import { logError } from './logger.ts';

/** Handshake header names (lower case, as Node presents them). */
export const HEADER_PROTOCOL = 'x-quorumkv-protocol';
export const HEADER_WIRE = 'x-quorumkv-wire';
export const HEADER_FROM = 'x-quorumkv-from';
export const HEADER_TO = 'x-quorumkv-to';
export const HEADER_TOKEN = 'x-quorumkv-token';
export const HEADER_MEMBER = 'x-quorumkv-member';
export const HEADER_REJECT = 'x-quorumkv-reject';

/** `decodeURIComponent` that answers undefined instead of throwing on a malformed escape. */
function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** ws `generateMask`: see #dialOptions. */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** Remote text made short and printable before it reaches a log line. */
function printable(text: string): string {
  return text.slice(0, 200).replace(/[^\x20-\x7e]/g, '?');
}

export interface LinkEnv {
  readonly self: NodeId;
  readonly config: WsConfig;
  readonly codec: WireCodec;
  unreachable(peer: NodeId): void;
  snapshotStatus(peer: NodeId, delivered: boolean): void;
}

export type LinkState = 'connecting' | 'open' | 'backoff' | 'closed';

export interface LinkStats {
  readonly state: LinkState;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly bufferedBytes: number;
  readonly droppedMessages: number;
  readonly sentFrames: number;
  /** Highest socket buffer seen right after writing a snapshot chunk: the stream's in-flight bytes. */
  readonly maxSnapshotBufferedBytes: number;
}

interface OutboundSnapshot {
  readonly stream: number;
  readonly message: Message;
  readonly data: Uint8Array;
  phase: 'begin' | 'chunks' | 'end' | 'awaitAck';
  offset: number;
  timer: NodeJS.Timeout | undefined;
}

export class PeerLink {
  readonly id: NodeId;
  #url: string;
  readonly #env: LinkEnv;
  #state: LinkState = 'backoff';
  #ws: WebSocket | undefined;
  // Invariant: #queuedBytes is the sum of #queueBytes[#head..]; both bounded by the config.
  // Parallel arrays (no per-message wrapper object) keep the hot path light on garbage.
  #queue: PeerMessage[] = [];
  #queueBytes: number[] = [];
  #head = 0;
  #queuedBytes = 0;
  #attempts = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Pings the open connection; cleared whenever that connection is no longer #ws. */
  #pingTimer: NodeJS.Timeout | undefined;
  #flushQueued = false;
  #waitingDrain = false;
  #snapshot: OutboundSnapshot | undefined;
  #nextStream = 1;
  #lastFailure = '';
  #dropped = 0;
  #sentFrames = 0;
  #maxSnapshotBuffered = 0;
  readonly #onWritten = (): void => {
    if (this.#waitingDrain) {
      this.#waitingDrain = false;
      this.#scheduleFlush();
    }
  };

  constructor(env: LinkEnv, id: NodeId, url: string) {
    this.#env = env;
    this.id = id;
    this.#url = url;
    this.#warnIfPlaintext();
    this.#connect();
  }

  get url(): string {
    return this.#url;
  }

  stats(): LinkStats {
    return {
      state: this.#state,
      queuedMessages: this.#queue.length - this.#head,
      queuedBytes: this.#queuedBytes,
      bufferedBytes: this.#ws?.bufferedAmount ?? 0,
      droppedMessages: this.#dropped,
      sentFrames: this.#sentFrames,
      maxSnapshotBufferedBytes: this.#maxSnapshotBuffered,
    };
  }

  /** Queues messages; drops (and reports) what does not fit or cannot be delivered now. */
  send(messages: readonly PeerMessage[]): void {
    if (this.#state === 'closed') return;
    const cfg = this.#env.config;
    let dropped = false;
    for (const message of messages) {
      if (message.type === 'snapshot') {
        this.#startSnapshot(message);
        continue;
      }
      const bytes = estimateMessageBytes(message);
      const full = this.#queue.length - this.#head >= cfg.maxQueueMessages || this.#queuedBytes + bytes > cfg.maxQueueBytes;
      if (this.#state === 'backoff' || full || bytes + FRAME_OVERHEAD_BYTES > cfg.maxPayloadBytes) {
        if (bytes + FRAME_OVERHEAD_BYTES > cfg.maxPayloadBytes) {
          cfg.logger.warn({ peer: this.id, bytes }, `transport: dropped a ${message.type} message to ${this.id}: larger than maxPayloadBytes`);
        }
        this.#dropped++;
        dropped = true;
        continue;
      }
      this.#queue.push(message);
      this.#queueBytes.push(bytes);
      this.#queuedBytes += bytes;
    }
    if (dropped) this.#env.unreachable(this.id);
    this.#scheduleFlush();
  }

  /**
   * The peer just connected to us, so it is up now: a link waiting out its reconnect backoff
   * (which grows to `reconnectMaxMs` while a peer is down) dials at once instead. Without this a
   * restarted member could not hear from a peer for seconds after it came back — e.g. the answer
   * to its pre-vote when its leader is killed next.
   */
  peerIsUp(): void {
    if (this.#state !== 'backoff') return;
    this.#clearTimer();
    this.#attempts = 0;
    this.#connect();
  }

  /** Points the link at a new URL (reconnects if it changed). */
  setUrl(url: string): void {
    if (url === this.#url || this.#state === 'closed') return;
    this.#url = url;
    this.#warnIfPlaintext();
    this.#disconnect('peer address changed');
    this.#clearTimer();
    this.#connect();
  }

  /** Resolves once everything queued is written out, or at `deadline` (ms since epoch). */
  async drain(deadline: number): Promise<void> {
    while (Date.now() < deadline && this.#state === 'open') {
      const idle = this.#queue.length === this.#head && this.#snapshot === undefined && (this.#ws?.bufferedAmount ?? 0) === 0;
      if (idle) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Closes the link for good: nothing is reported after this. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimer();
    this.#clearPing();
    this.#clearQueue();
    if (this.#snapshot?.timer !== undefined) clearTimeout(this.#snapshot.timer);
    this.#snapshot = undefined;
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws !== undefined) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1001, 'member stopping');
        setTimeout(() => ws.terminate(), 500).unref();
      } else ws.terminate();
    }
  }

  #warnIfPlaintext(): void {
    const cfg = this.#env.config;
    let parsed: URL;
    try {
      parsed = new URL(this.#url);
    } catch {
      return; // Reported when dialing.
    }
    if (parsed.protocol === 'ws:' && cfg.tls === undefined && !isLoopbackHost(parsed.hostname)) {
      cfg.logger.warn({ peer: this.id, url: this.#url }, `transport: plaintext connection to ${this.id} over a non-loopback network: traffic is neither encrypted nor certificate-authenticated`);
    }
  }

  #dialOptions(): ClientOptions {
    const cfg = this.#env.config;
    const headers: Record<string, string> = {
      [HEADER_PROTOCOL]: String(PROTOCOL_VERSION),
      [HEADER_WIRE]: String(WIRE_FORMAT_VERSION),
      [HEADER_FROM]: encodeURIComponent(this.#env.self),
      [HEADER_TO]: encodeURIComponent(this.id),
      [HEADER_TOKEN]: encodeURIComponent(cfg.token),
    };
    const options: ClientOptions = {
      headers,
      perMessageDeflate: false,
      maxPayload: cfg.maxPayloadBytes,
      handshakeTimeout: cfg.handshakeTimeoutMs,
      followRedirects: false,
      // An all-zero masking key: ws then neither XORs nor copies a frame on either side. Masking
      // (RFC 6455 §10.3) keeps a browser script's bytes from poisoning a caching proxy; between
      // two members there is neither, so it buys nothing (still a conforming masked frame).
      generateMask: zeroMask,
    };
    if (cfg.tls !== undefined) {
      const peer = this.id;
      options.cert = cfg.tls.cert;
      options.key = cfg.tls.key;
      options.ca = cfg.tls.ca as string | Buffer | (string | Buffer)[];
      options.rejectUnauthorized = true;
      // Member identity replaces host-name identity: the server's certificate must name the peer we
      // dial. ws hands this to tls.connect, whose contract is (host, cert) => Error | undefined;
      // @types/ws declares a different signature, hence the cast.
      const check = (_host: string, cert: PeerCertificate): Error | undefined =>
        certificateNamesMember(cert, peer) ? undefined : new Error(`certificate names [${certificateMemberNames(cert).join(', ')}], not ${peer}`);
      options.checkServerIdentity = check as unknown as NonNullable<ClientOptions['checkServerIdentity']>;
    }
    return options;
  }

  /** Why the URL cannot be dialed, or '' when it can. */
  #urlProblem(): string {
    let parsed: URL;
    try {
      parsed = new URL(this.#url);
    } catch {
      return `invalid peer URL ${JSON.stringify(this.#url)}`;
    }
    const tls = this.#env.config.tls !== undefined;
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') return `peer URL ${this.#url} is not ws:// or wss://`;
    if (tls && parsed.protocol !== 'wss:') return `peer URL ${this.#url} is plaintext but this member uses TLS`;
    if (!tls && parsed.protocol === 'wss:') return `peer URL ${this.#url} is wss:// but this member has no tls options`;
    return '';
  }

  #connect(): void {
    const problem = this.#urlProblem();
    if (problem !== '') {
      this.#failed(problem);
      return;
    }
    this.#state = 'connecting';
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#url, this.#dialOptions());
    } catch (err) {
      this.#failed(err instanceof Error ? err.message : String(err));
      return;
    }
    ws.binaryType = 'nodebuffer';
    this.#ws = ws;
    let failure = '';
    ws.on('upgrade', (res) => {
      // The answering server's bytes: a malformed escape must not throw inside this listener
      // (that would be an uncaught exception in the member's process).
      // Every quorumkv member names itself; a server that does not is not the peer we meant.
      const member = res.headers[HEADER_MEMBER];
      if (typeof member !== 'string') {
        failure = 'reached a server that does not name itself as a quorumkv member';
        ws.terminate();
      } else if (safeDecode(member) !== this.id) {
        failure = `reached member ${printable(member)} instead`;
        ws.terminate();
      }
    });
    ws.on('unexpected-response', (req, res) => {
      const reason = res.headers[HEADER_REJECT];
      failure = `peer rejected the connection: ${res.statusCode ?? 0} ${typeof reason === 'string' ? printable(reason) : ''}`.trim();
      req.destroy();
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (failure === '') failure = err.message;
    });
    let lastPongMs = 0;
    /** When the unanswered ping left (performance.now()), for the round-trip metric; 0 when none. */
    let pingSentAt = 0;
    ws.on('pong', () => {
      lastPongMs = Date.now();
      if (pingSentAt !== 0) this.#env.config.observer?.roundTrip(this.id, (performance.now() - pingSentAt) / 1000);
      pingSentAt = 0;
    });
    ws.on('open', () => {
      if (this.#state === 'closed' || this.#ws !== ws) return;
      lastPongMs = Date.now();
      this.#clearPing();
      // Liveness: a connection whose peer stopped answering pings is closed, so #failed reports
      // it and the link redials, instead of queueing into a dead socket until TCP gives up.
      this.#pingTimer = setInterval(() => {
        if (this.#ws !== ws || ws.readyState !== WebSocket.OPEN) return this.#clearPing();
        if (Date.now() - lastPongMs > this.#env.config.pingTimeoutMs) {
          failure = `no answer to pings for ${this.#env.config.pingTimeoutMs} ms`;
          this.#clearPing();
          ws.terminate();
          return;
        }
        if (pingSentAt === 0) pingSentAt = performance.now();
        ws.ping();
      }, this.#env.config.pingIntervalMs);
      this.#pingTimer.unref();
      this.#opened();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onControl(ws, data, isBinary));
    ws.on('close', (code, reason) => {
      if (this.#ws !== ws) return;
      this.#clearPing();
      this.#ws = undefined;
      this.#failed(failure || `connection closed (${code} ${reason.toString()})`);
    });
  }

  #opened(): void {
    if (this.#state === 'closed') return;
    this.#state = 'open';
    this.#attempts = 0;
    if (this.#lastFailure !== '') this.#env.config.logger.info({ peer: this.id }, `transport: reconnected to ${this.id}`);
    this.#lastFailure = '';
    this.#scheduleFlush();
  }

  /** Connection lost or never made: drop what is queued, report, and back off. */
  #failed(reason: string): void {
    if (this.#state === 'closed') return;
    const cfg = this.#env.config;
    if (reason !== this.#lastFailure) {
      cfg.logger.warn({ peer: this.id, url: this.#url, reason }, `transport: cannot reach ${this.id}: ${reason}`);
      this.#lastFailure = reason;
    }
    const hadQueued = this.#queue.length > this.#head;
    this.#dropped += this.#queue.length - this.#head;
    this.#clearQueue();
    this.#failSnapshot();
    if (hadQueued) this.#env.unreachable(this.id);
    this.#state = 'backoff';
    const capMs = Math.min(cfg.reconnectMaxMs, cfg.reconnectBaseMs * 2 ** Math.min(this.#attempts, 30));
    this.#attempts++;
    const delayMs = capMs / 2 + cfg.random() * (capMs / 2);
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === 'backoff') this.#connect();
    }, delayMs);
    this.#timer.unref();
  }

  #disconnect(reason: string): void {
    this.#clearPing();
    const ws = this.#ws;
    this.#ws = undefined;
    if (ws === undefined) return;
    ws.removeAllListeners();
    ws.on('error', () => {});
    ws.terminate();
    // Queued messages are lost with the connection: Raft must hear of it, as on any failure.
    const hadQueued = this.#queue.length > this.#head;
    this.#dropped += this.#queue.length - this.#head;
    this.#clearQueue();
    this.#failSnapshot();
    if (hadQueued) this.#env.unreachable(this.id);
    this.#env.config.logger.info({ peer: this.id, reason }, `transport: dropped connection to ${this.id}: ${reason}`);
  }

  #clearPing(): void {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #clearQueue(): void {
    this.#queue = [];
    this.#queueBytes = [];
    this.#head = 0;
    this.#queuedBytes = 0;
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#state !== 'open') return;
    this.#flushQueued = true;
    // A microtask batches every send() of the current task into as few frames as possible.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    const ws = this.#ws;
    if (this.#state !== 'open' || ws === undefined || ws.readyState !== WebSocket.OPEN) return;
    // Frames written in one flush leave in one writev() instead of one syscall each. ws keeps its
    // net.Socket in `_socket` (not public API, stable across ws 8): used only when present.
    const socket = (ws as unknown as { _socket?: { cork?: () => void; uncork?: () => void } })._socket;
    socket?.cork?.();
    try {
      this.#flushFrames(ws);
    } finally {
      socket?.uncork?.();
    }
  }

  #flushFrames(ws: WebSocket): void {
    const cfg = this.#env.config;
    for (;;) {
      if (ws.bufferedAmount >= cfg.maxBufferedBytes) {
        this.#waitingDrain = true;
        return;
      }
      if (this.#queue.length > this.#head) {
        this.#sendBatch(ws);
        continue;
      }
      if (this.#snapshot === undefined || this.#snapshot.phase === 'awaitAck') return;
      if (this.#snapshot.phase === 'chunks' && ws.bufferedAmount >= cfg.snapshotInflightBytes) {
        // Flow control: the stream's bytes waiting in the socket stay under snapshotInflightBytes.
        this.#waitingDrain = true;
        return;
      }
      this.#sendSnapshotPart(ws, this.#snapshot);
    }
  }

  #write(ws: WebSocket, frame: Buffer): void {
    this.#sentFrames++;
    this.#env.config.observer?.sent(this.id, frame.byteLength);
    ws.send(frame, { binary: true }, this.#onWritten);
  }

  #sendBatch(ws: WebSocket): void {
    const cfg = this.#env.config;
    const batch: PeerMessage[] = [];
    let bytes = 0;
    while (this.#head < this.#queue.length && batch.length < cfg.maxBatchMessages) {
      const itemBytes = this.#queueBytes[this.#head]!;
      if (batch.length > 0 && bytes + itemBytes > cfg.maxBatchBytes) break;
      batch.push(this.#queue[this.#head]!);
      bytes += itemBytes;
      this.#head++;
    }
    this.#queuedBytes -= bytes;
    if (this.#head === this.#queue.length) this.#clearQueue();
    else if (this.#head > 4096) {
      this.#queue = this.#queue.slice(this.#head);
      this.#queueBytes = this.#queueBytes.slice(this.#head);
      this.#head = 0;
    }
    const frame = this.#env.codec.encodeBatch(batch);
    if (frame.byteLength > cfg.maxPayloadBytes) {
      cfg.logger.warn({ peer: this.id, bytes: frame.byteLength }, `transport: dropped a batch to ${this.id}: frame larger than maxPayloadBytes`);
      this.#dropped += batch.length;
      this.#env.unreachable(this.id);
      return;
    }
    this.#write(ws, frame);
  }

  #startSnapshot(message: Message): void {
    const data = message.snapshot?.data;
    if (this.#state !== 'open' && this.#state !== 'connecting') {
      this.#env.snapshotStatus(this.id, false);
      this.#env.unreachable(this.id);
      return;
    }
    if (data === undefined || this.#snapshot !== undefined || data.byteLength > Number.MAX_SAFE_INTEGER) {
      // One stream at a time per peer; Raft sends the next only after a status report.
      this.#env.snapshotStatus(this.id, false);
      return;
    }
    this.#snapshot = { stream: this.#nextStream++ >>> 0, message, data, phase: 'begin', offset: 0, timer: undefined };
    this.#scheduleFlush();
  }

  #sendSnapshotPart(ws: WebSocket, s: OutboundSnapshot): void {
    const { codec, config } = this.#env;
    if (s.phase === 'begin') {
      this.#write(ws, codec.encodeSnapshotBegin(s.stream, s.message, s.data.byteLength));
      s.phase = s.data.byteLength === 0 ? 'end' : 'chunks';
    } else if (s.phase === 'chunks') {
      const end = Math.min(s.offset + config.snapshotChunkBytes, s.data.byteLength);
      this.#write(ws, codec.encodeSnapshotChunk(s.stream, s.offset, s.data.subarray(s.offset, end)));
      this.#maxSnapshotBuffered = Math.max(this.#maxSnapshotBuffered, ws.bufferedAmount);
      s.offset = end;
      if (end === s.data.byteLength) s.phase = 'end';
    } else if (s.phase === 'end') {
      this.#write(ws, codec.encodeSnapshotEnd(s.stream));
      s.phase = 'awaitAck';
      s.timer = setTimeout(() => {
        config.logger.warn({ peer: this.id }, `transport: no acknowledgement of snapshot stream ${s.stream} from ${this.id}`);
        if (this.#snapshot === s) this.#failSnapshot();
      }, config.snapshotAckTimeoutMs);
      s.timer.unref();
    }
  }

  #failSnapshot(): void {
    const s = this.#snapshot;
    if (s === undefined) return;
    if (s.timer !== undefined) clearTimeout(s.timer);
    this.#snapshot = undefined;
    this.#env.snapshotStatus(this.id, false);
  }

  /** The only frames a peer sends back on our outbound connection: snapshot acknowledgements. */
  #onControl(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    if (this.#ws !== ws) return;
    try {
      if (!isBinary) throw new ProtocolError('transport: text frame');
      const frame = this.#env.codec.decodeFrame(data);
      const s = this.#snapshot;
      if (frame.kind !== 'snapshotAck') throw new ProtocolError(`transport: unexpected ${frame.kind} frame on an outbound connection`);
      if (s === undefined || s.phase !== 'awaitAck' || s.stream !== frame.stream) throw new ProtocolError(`transport: acknowledgement of unknown snapshot stream ${frame.stream}`);
      if (s.timer !== undefined) clearTimeout(s.timer);
      this.#snapshot = undefined;
      this.#env.snapshotStatus(this.id, frame.ok);
      this.#scheduleFlush();
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      logError(this.#env.config.logger, { peer: this.id, reason: err.message }, `transport: closing connection to ${this.id}: ${err.message}`);
      ws.terminate();
    }
  }
}
