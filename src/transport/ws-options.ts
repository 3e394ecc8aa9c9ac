/**
 * Options of the ws transport, their defaults and limits, normalized once into a frozen config
 * (docs/contributing.md, habit 5: a RangeError names the bad field).
 */
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_SNAPSHOT_CHUNK_BYTES, FRAME_OVERHEAD_BYTES, MIN_MAX_PAYLOAD_BYTES } from '../limits.ts';
import type { NodeId } from '../protocol/types.ts';
import type { TransportLogger } from './logger.ts';
import type { PeerTrafficObserver } from './types.ts';
import { stderrLogger } from './logger.ts';
import { CHUNK_HEADER_BYTES } from './wire.ts';

export interface WsTlsOptions {
  /** This member's certificate (PEM); it must name this member's id (CN, DNS SAN or URI SAN `quorumkv://<id>`). */
  readonly cert: string | Buffer;
  /** Private key of `cert` (PEM). */
  readonly key: string | Buffer;
  /** The cluster CA(s) that issue member certificates (PEM). Only these are trusted. */
  readonly ca: string | Buffer | readonly (string | Buffer)[];
}

export interface WsTransportOptions {
  /** Where to accept peers' connections. Port 0 picks a free port (see `boundPort`). */
  readonly listen: { readonly host: string; readonly port: number };
  /** Peer member ids and their `ws://` or `wss://` URLs. An entry for this member is ignored. @default {} */
  readonly peers?: Readonly<Record<NodeId, string>>;
  /** Cluster token every peer must present at the handshake (compared in constant time). @default '' (none) */
  readonly token?: string;
  /** Mutual TLS: listen with `wss`, present `cert`, accept only peers whose certificate names their id. */
  readonly tls?: WsTlsOptions;
  /** Per-peer outbound queue bound in (estimated) bytes; over it messages are dropped. @default 33554432 (32 MiB) */
  readonly maxQueueBytes?: number;
  /** Per-peer outbound queue bound in messages. @default 8192 */
  readonly maxQueueMessages?: number;
  /** Largest inbound frame in bytes (ws `maxPayload`); bigger frames close the connection. @default 16777216 (16 MiB) */
  readonly maxPayloadBytes?: number;
  /** Target size of one outbound batch frame in bytes. @default 1048576 (1 MiB) */
  readonly maxBatchBytes?: number;
  /** Most messages in one batch frame (also the inbound limit). @default 4096 */
  readonly maxBatchMessages?: number;
  /** Socket high-water mark: above it nothing more is written until the socket drains. @default 4194304 (4 MiB) */
  readonly maxBufferedBytes?: number;
  /** Snapshot stream chunk size in bytes. @default 262144 (256 KiB) */
  readonly snapshotChunkBytes?: number;
  /**
   * Flow control of snapshot streams: a chunk is written only while the socket holds fewer than
   * this many bytes, so a stream's in-flight data stays under about this plus one chunk. @default 1048576 (1 MiB)
   */
  readonly snapshotInflightBytes?: number;
  /** Largest snapshot accepted from a peer, in bytes. @default 1073741824 (1 GiB) */
  readonly maxSnapshotBytes?: number;
  /** How long a sender waits for the receiver's acknowledgement after the last chunk. @default 30000 */
  readonly snapshotAckTimeoutMs?: number;
  /** First reconnect delay in ms (doubled per failure, jittered). @default 100 */
  readonly reconnectBaseMs?: number;
  /** Longest reconnect delay in ms. @default 5000 */
  readonly reconnectMaxMs?: number;
  /**
   * Interval of WebSocket pings on each outbound connection, in ms. A peer that vanished without
   * closing (power loss, a partition that drops packets) is otherwise noticed only when TCP gives
   * up, many minutes later. @default 2000
   */
  readonly pingIntervalMs?: number;
  /** An outbound connection with no pong for this long is closed and redialed, in ms (> pingIntervalMs). @default 10000 */
  readonly pingTimeoutMs?: number;
  /** Bound on a connection's HTTP upgrade handshake in ms. @default 5000 */
  readonly handshakeTimeoutMs?: number;
  /** Bounded wait of `stop()` for queued messages to be written, in ms. @default 2000 */
  readonly drainTimeoutMs?: number;
  /** Most simultaneous TCP connections the listener accepts. @default 256 */
  readonly maxConnections?: number;
  /** Randomness for reconnect jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Pino-compatible logger. @default warnings and errors to stderr */
  readonly logger?: TransportLogger;
  /** Told the bytes sent to and received from each peer and ping round trips (metrics). @default none */
  readonly observer?: PeerTrafficObserver;
}

export interface WsConfig {
  readonly host: string;
  readonly port: number;
  readonly peers: Readonly<Record<NodeId, string>>;
  readonly token: string;
  readonly tls: WsTlsOptions | undefined;
  readonly maxQueueBytes: number;
  readonly maxQueueMessages: number;
  readonly maxPayloadBytes: number;
  readonly maxBatchBytes: number;
  readonly maxBatchMessages: number;
  readonly maxBufferedBytes: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotInflightBytes: number;
  readonly maxSnapshotBytes: number;
  readonly snapshotAckTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly maxConnections: number;
  readonly random: () => number;
  readonly logger: TransportLogger;
  readonly observer: PeerTrafficObserver | undefined;
}

/** Headroom in a frame beyond a batch's target size (src/limits.ts). */
export { FRAME_OVERHEAD_BYTES };

function positiveInt(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`transport: ${name} must be an integer >= ${min}, got ${String(value)}`);
  return v;
}

export function normalizeWsOptions(options: WsTransportOptions): WsConfig {
  const { host, port } = options.listen ?? { host: '', port: -1 };
  if (typeof host !== 'string' || host.length === 0) throw new RangeError('transport: listen.host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`transport: listen.port must be in 0..65535, got ${String(port)}`);
  const config: WsConfig = {
    host,
    port,
    peers: Object.freeze({ ...(options.peers ?? {}) }),
    token: options.token ?? '',
    tls: options.tls,
    maxQueueBytes: positiveInt('maxQueueBytes', options.maxQueueBytes, 32 * 1024 * 1024),
    maxQueueMessages: positiveInt('maxQueueMessages', options.maxQueueMessages, 8192),
    maxPayloadBytes: positiveInt('maxPayloadBytes', options.maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES, MIN_MAX_PAYLOAD_BYTES),
    maxBatchBytes: positiveInt('maxBatchBytes', options.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES),
    maxBatchMessages: positiveInt('maxBatchMessages', options.maxBatchMessages, 4096),
    maxBufferedBytes: positiveInt('maxBufferedBytes', options.maxBufferedBytes, 4 * 1024 * 1024),
    snapshotChunkBytes: positiveInt('snapshotChunkBytes', options.snapshotChunkBytes, DEFAULT_SNAPSHOT_CHUNK_BYTES),
    snapshotInflightBytes: positiveInt('snapshotInflightBytes', options.snapshotInflightBytes, 1024 * 1024),
    maxSnapshotBytes: positiveInt('maxSnapshotBytes', options.maxSnapshotBytes, 1024 * 1024 * 1024, 0),
    snapshotAckTimeoutMs: positiveInt('snapshotAckTimeoutMs', options.snapshotAckTimeoutMs, 30_000),
    reconnectBaseMs: positiveInt('reconnectBaseMs', options.reconnectBaseMs, 100),
    reconnectMaxMs: positiveInt('reconnectMaxMs', options.reconnectMaxMs, 5000),
    pingIntervalMs: positiveInt('pingIntervalMs', options.pingIntervalMs, 2000),
    pingTimeoutMs: positiveInt('pingTimeoutMs', options.pingTimeoutMs, 10_000),
    handshakeTimeoutMs: positiveInt('handshakeTimeoutMs', options.handshakeTimeoutMs, 5000),
    drainTimeoutMs: positiveInt('drainTimeoutMs', options.drainTimeoutMs, 2000, 0),
    maxConnections: positiveInt('maxConnections', options.maxConnections, 256),
    random: options.random ?? Math.random,
    logger: options.logger ?? stderrLogger,
    observer: options.observer,
  };
  if (config.maxBatchBytes + FRAME_OVERHEAD_BYTES > config.maxPayloadBytes) {
    throw new RangeError('transport: maxBatchBytes + 1 KiB must not exceed maxPayloadBytes');
  }
  if (config.snapshotChunkBytes + CHUNK_HEADER_BYTES > config.maxPayloadBytes) {
    throw new RangeError('transport: snapshotChunkBytes + 13 must not exceed maxPayloadBytes');
  }
  if (config.pingTimeoutMs <= config.pingIntervalMs) throw new RangeError('transport: pingTimeoutMs must be greater than pingIntervalMs');
  if (config.reconnectMaxMs < config.reconnectBaseMs) throw new RangeError('transport: reconnectMaxMs must be >= reconnectBaseMs');
  if (config.tls !== undefined && (!config.tls.cert || !config.tls.key || !config.tls.ca)) {
    throw new RangeError('transport: tls needs cert, key and ca');
  }
  return Object.freeze(config);
}

/** Whether a host name or address is loopback (plaintext there is tolerated for development). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}
