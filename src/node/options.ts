/**
 * `createNode()` options: validated eagerly and normalized into a frozen {@link NodeConfig}.
 * Every problem is a `RangeError` naming the field (docs/contributing.md, habit 5).
 */
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS, MAX_MAX_REQUEST_BYTES, MIN_MAX_REQUEST_BYTES } from '../limits.ts';
import { MAX_NODE_ID_BYTES } from '../protocol/types.ts';
import type { NodeId } from '../protocol/types.ts';
import type { Storage } from '../storage/types.ts';
import type { Transport } from '../transport/types.ts';
import type { MetricsRegistry } from './prom-registry.ts';
import type { Logger, ValueCodec } from './types.ts';

/** `createNode({ metrics })`: where this member's metrics are registered besides `node.metrics()`. */
export interface MetricsOptions {
  /**
   * A prom-client `Registry` the application owns (prom-client is not a dependency of this
   * package: an object with `registerMetric` and `removeSingleMetric`). The member's metric
   * families are registered on start and removed when it stops; one registry holds one member.
   */
  readonly registry: MetricsRegistry;
}

/** Options of the client (HTTP/JSON) endpoint; interpreted by `src/gateway/server.ts`. */
export interface ClientEndpointConfig {
  readonly host?: string;
  readonly port?: number;
  readonly [option: string]: unknown;
}

export interface NodeOptions {
  /** This member's name, stable across restarts. Non-empty, at most 64 UTF-8 bytes. */
  readonly id: NodeId;
  /**
   * The name this member publishes to the cluster (etcd's `--name`, shown in member lists).
   * At most 64 UTF-8 bytes. @default id
   */
  readonly name?: string;
  /**
   * Every member of the initial cluster (including this one) → its peer URL (`ws://host:port`).
   * Omit for a single-member cluster. With `join: true`, the members to contact (this one included).
   */
  readonly peers?: Readonly<Record<NodeId, string>>;
  /**
   * Start empty and wait to be added by `cluster.add()` on a running member (learner first),
   * instead of bootstrapping a new cluster from `peers`. @default false
   */
  readonly join?: boolean;
  /** Directory of the default file storage. Required unless `storage` is given. */
  readonly dataDir?: string;
  /** Persistence adapter. @default fileStorage(dataDir) */
  readonly storage?: Storage;
  /** Message transport. @default wsTransport listening on this member's URL in `peers` */
  readonly transport?: Transport;
  /** Cluster token checked at the transport handshake (default ws transport only). */
  readonly token?: string;
  /** Bootstrap this member's empty storage from a `backup()` file (new cluster from `peers`). */
  readonly restoreFrom?: string;
  /** Start the HTTP/JSON client endpoint (src/gateway) with these options. */
  readonly client?: ClientEndpointConfig;
  /** Value codec. @default msgpackr */
  readonly codec?: ValueCodec;
  /**
   * pino-compatible logger; one with `child` gets `{ member: id }` bound.
   * @default warnings and errors to stderr
   */
  readonly logger?: Logger;
  /** Leader heartbeat interval in ms. @default 100 */
  readonly heartbeatMs?: number;
  /** Raft ticks per heartbeat (tick interval = heartbeatMs / ticksPerHeartbeat). @default 1 */
  readonly ticksPerHeartbeat?: number;
  /** Base election timeout in ms (randomized 1–2×). Must exceed heartbeatMs. @default 1000 */
  readonly electionTimeoutMs?: number;
  /** @default true */
  readonly preVote?: boolean;
  /** @default true */
  readonly checkQuorum?: boolean;
  /** Serve ReadIndex from the leader lease (requires checkQuorum). @default false */
  readonly leaseReads?: boolean;
  /**
   * Snapshot the store every this many applied entries (etcd's `--snapshot-count` default). A
   * snapshot encodes the whole store, so its cost per write is the store's size over this.
   * @default 100_000
   */
  readonly snapshotEvery?: number;
  /**
   * Also snapshot once the entries applied since the last snapshot take this many bytes (their
   * data plus ~256 B each for the in-memory log): bounds the in-memory log and the WAL replayed
   * at restart. A tiny value snapshots the whole store after nearly every entry.
   * @default 64 MiB
   */
  readonly snapshotEveryBytes?: number;
  /**
   * Log entries kept behind each snapshot, so that a follower a little behind the leader (the
   * slower one of a busy cluster, or one that just restarted) catches up from the log instead of
   * being sent the whole store. Bounded also by {@link NodeOptions.snapshotCatchUpBytes}. 0 keeps none.
   * @default min(5_000, snapshotEvery)
   */
  readonly snapshotCatchUpEntries?: number;
  /** Bytes of entry data kept behind each snapshot at most (see snapshotCatchUpEntries). @default 16 MiB */
  readonly snapshotCatchUpBytes?: number;
  /** Default bound on every call in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
  /** Bound on `close()`'s leadership transfer and flush in ms. @default 2_000 */
  readonly closeTimeoutMs?: number;
  /** Largest request (encoded command) in bytes. @default 1.5 MiB */
  readonly maxRequestBytes?: number;
  /** Operations in one txn, nested included. @default 128 */
  readonly maxTxnOps?: number;
  /** Longest key in UTF-8 bytes. @default 8192 */
  readonly maxKeyBytes?: number;
  /** Writes waiting to be applied on this member; more reject with ProposalDroppedError. @default 10_000 */
  readonly maxPendingProposals?: number;
  /** Linearizable reads waiting on this member; more reject with ProposalDroppedError. @default 10_000 */
  readonly maxPendingReads?: number;
  /** Events buffered per watch before it is cancelled as slow. @default 10_000 */
  readonly maxWatchBufferedEvents?: number;
  /** Applied proposal ids remembered to drop re-proposed duplicates (replicated state). @default 10_000 */
  readonly dedupeEntries?: number;
  /** Interval of `progress` events for watches with `progressNotify`, in ms. @default 1_000 */
  readonly progressIntervalMs?: number;
  /** Injected wall clock in ms (lease deadlines). @default Date.now */
  readonly now?: () => number;
  /** Injected randomness in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Also register this member's metrics into a prom-client registry. @default none (node.metrics() only) */
  readonly metrics?: MetricsOptions;
}

/** The normalized, frozen configuration. */
export interface NodeConfig {
  readonly id: NodeId;
  readonly name: string;
  readonly peers: Readonly<Record<NodeId, string>>;
  readonly join: boolean;
  readonly dataDir: string | undefined;
  readonly storage: Storage | undefined;
  readonly transport: Transport | undefined;
  readonly token: string | undefined;
  readonly restoreFrom: string | undefined;
  readonly client: ClientEndpointConfig | undefined;
  readonly codec: ValueCodec | undefined;
  readonly logger: Logger;
  readonly heartbeatMs: number;
  readonly ticksPerHeartbeat: number;
  readonly tickMs: number;
  readonly electionTimeoutMs: number;
  readonly electionTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly leaseReads: boolean;
  readonly snapshotEvery: number;
  readonly snapshotEveryBytes: number;
  readonly snapshotCatchUpEntries: number;
  readonly snapshotCatchUpBytes: number;
  readonly requestTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly maxKeyBytes: number;
  readonly maxPendingProposals: number;
  readonly maxPendingReads: number;
  readonly maxWatchBufferedEvents: number;
  readonly dedupeEntries: number;
  readonly progressIntervalMs: number;
  /** Lease TTL floor: 1.5 × election timeout (etcd's minimum). */
  readonly minLeaseTtlMs: number;
  readonly now: () => number;
  readonly random: () => number;
  readonly metrics: MetricsOptions | undefined;
}

const defaultLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn(obj: object, msg: string) {
    process.stderr.write(`quorumkv warn: ${msg} ${safeJson(obj)}\n`);
  },
  error(obj: object, msg: string) {
    process.stderr.write(`quorumkv error: ${msg} ${safeJson(obj)}\n`);
  },
});

/** The app's logger with this member's id bound, when it can make children (pino's `child`). */
function memberLogger(logger: Logger, id: NodeId): Logger {
  if (typeof logger.child !== 'function') return logger;
  const child = logger.child({ member: id });
  if (!isObjectWith(child, ['debug', 'info', 'warn', 'error'])) throw new RangeError('createNode: logger.child() must return a logger with debug, info, warn and error');
  return child;
}

function safeJson(obj: object): string {
  try {
    return JSON.stringify(obj, (_k, v: unknown) => (v instanceof Error ? v.message : v));
  } catch {
    return '';
  }
}

function int(options: NodeOptions, field: keyof NodeOptions, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value: unknown = options[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`createNode: ${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function bool(options: NodeOptions, field: keyof NodeOptions, fallback: boolean): boolean {
  const value: unknown = options[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new RangeError(`createNode: ${field} must be a boolean`);
  return value;
}

function fn<F>(options: NodeOptions, field: keyof NodeOptions, fallback: F): F {
  const value: unknown = options[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'function') throw new RangeError(`createNode: ${field} must be a function`);
  return value as F;
}

function str(options: NodeOptions, field: keyof NodeOptions): string | undefined {
  const value: unknown = options[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new RangeError(`createNode: ${field} must be a non-empty string`);
  return value;
}

/** Member ids: non-empty, at most 64 UTF-8 bytes. */
export function checkMemberId(id: unknown, field: string): NodeId {
  if (typeof id !== 'string' || id === '') throw new RangeError(`createNode: ${field} must be a non-empty string`);
  if (Buffer.byteLength(id) > MAX_NODE_ID_BYTES) throw new RangeError(`createNode: ${field} must be at most ${MAX_NODE_ID_BYTES} bytes`);
  return id;
}

/** Peer URLs are ws:// or wss:// with a host and a port. */
export function checkPeerUrl(url: unknown, field: string): string {
  if (typeof url !== 'string') throw new RangeError(`createNode: ${field} must be a ws:// or wss:// URL`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`createNode: ${field} must be a ws:// or wss:// URL, got ${url}`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new RangeError(`createNode: ${field} must be a ws:// or wss:// URL, got ${url}`);
  return url;
}

function peersOf(options: NodeOptions, id: NodeId): Readonly<Record<NodeId, string>> {
  const peers: unknown = options.peers;
  if (peers === undefined) {
    if (options.join === true) throw new RangeError('createNode: peers is required with join: true');
    return Object.freeze({});
  }
  if (typeof peers !== 'object' || peers === null) throw new RangeError('createNode: peers must be an object of member id → ws:// URL');
  const out: Record<NodeId, string> = {};
  for (const [member, url] of Object.entries(peers)) {
    checkMemberId(member, `peers key ${JSON.stringify(member)}`);
    out[member] = checkPeerUrl(url, `peers.${member}`);
  }
  if (Object.keys(out).length > 0 && out[id] === undefined) throw new RangeError(`createNode: peers must include this member's id (${id})`);
  return Object.freeze(out);
}

function isObjectWith(value: unknown, methods: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return methods.every((m) => typeof record[m] === 'function');
}

function metricsOf(value: unknown): MetricsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new RangeError('createNode: metrics must be an object');
  const unknownNames = Object.keys(value).filter((k) => k !== 'registry');
  if (unknownNames.length > 0) throw new RangeError(`createNode: unknown metrics option ${unknownNames.map((k) => JSON.stringify(k)).join(', ')}`);
  const registry: unknown = (value as Record<string, unknown>)['registry'];
  if (!isObjectWith(registry, ['registerMetric', 'removeSingleMetric'])) {
    throw new RangeError('createNode: metrics.registry must be a prom-client Registry (registerMetric and removeSingleMetric)');
  }
  return Object.freeze({ registry: registry as MetricsRegistry });
}

/** Validates and normalizes; throws RangeError naming the offending field. */
/**
 * Every option name: a misspelt option (`electionTimeout` for `electionTimeoutMs`) would otherwise
 * be ignored and silently change nothing. The `satisfies` makes a new option fail to compile here
 * until it is listed.
 */
const OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
  id: true,
  name: true,
  peers: true,
  join: true,
  dataDir: true,
  storage: true,
  transport: true,
  token: true,
  restoreFrom: true,
  client: true,
  codec: true,
  logger: true,
  heartbeatMs: true,
  ticksPerHeartbeat: true,
  electionTimeoutMs: true,
  preVote: true,
  checkQuorum: true,
  leaseReads: true,
  snapshotEvery: true,
  snapshotEveryBytes: true,
  snapshotCatchUpEntries: true,
  snapshotCatchUpBytes: true,
  requestTimeoutMs: true,
  closeTimeoutMs: true,
  maxRequestBytes: true,
  maxTxnOps: true,
  maxKeyBytes: true,
  maxPendingProposals: true,
  maxPendingReads: true,
  maxWatchBufferedEvents: true,
  dedupeEntries: true,
  progressIntervalMs: true,
  now: true,
  random: true,
  metrics: true,
  } satisfies Record<keyof NodeOptions, true>),
);

/** A RangeError naming every option `createNode()` does not know. */
function rejectUnknownOptions(options: object): void {
  const unknown = Object.keys(options).filter((k) => !OPTION_NAMES.has(k));
  if (unknown.length === 0) return;
  const names = unknown.map((k) => JSON.stringify(k)).join(', ');
  throw new RangeError(`createNode: unknown option${unknown.length === 1 ? '' : 's'} ${names}`);
}

export function normalizeOptions(options: NodeOptions): NodeConfig {
  if (typeof options !== 'object' || options === null) throw new RangeError('createNode: options must be an object');
  rejectUnknownOptions(options);
  const id = checkMemberId(options.id, 'id');
  const peers = peersOf(options, id);
  const dataDir = str(options, 'dataDir');
  if (options.storage !== undefined && !isObjectWith(options.storage, ['open', 'save', 'initialState', 'createSnapshot', 'compact', 'close'])) {
    throw new RangeError('createNode: storage must implement the Storage interface');
  }
  if (options.storage === undefined && dataDir === undefined) throw new RangeError('createNode: dataDir is required unless storage is given');
  if (options.transport !== undefined && !isObjectWith(options.transport, ['start', 'send', 'addPeer', 'removePeer', 'stop'])) {
    throw new RangeError('createNode: transport must implement the Transport interface');
  }
  if (options.codec !== undefined && !isObjectWith(options.codec, ['encode', 'decode'])) throw new RangeError('createNode: codec must have encode and decode');
  if (options.logger !== undefined && !isObjectWith(options.logger, ['debug', 'info', 'warn', 'error'])) {
    throw new RangeError('createNode: logger must have debug, info, warn and error');
  }
  if (options.client !== undefined && (typeof options.client !== 'object' || options.client === null)) throw new RangeError('createNode: client must be an object');
  const metrics = metricsOf(options.metrics);
  const join = bool(options, 'join', false);
  const heartbeatMs = int(options, 'heartbeatMs', 100, 1, 60_000);
  const ticksPerHeartbeat = int(options, 'ticksPerHeartbeat', 1, 1, 100);
  const tickMs = heartbeatMs / ticksPerHeartbeat;
  if (tickMs < 1) throw new RangeError('createNode: heartbeatMs / ticksPerHeartbeat must be at least 1 ms');
  const electionTimeoutMs = int(options, 'electionTimeoutMs', 1000, 2, 600_000);
  if (electionTimeoutMs <= heartbeatMs) throw new RangeError('createNode: electionTimeoutMs must be greater than heartbeatMs');
  const checkQuorum = bool(options, 'checkQuorum', true);
  const leaseReads = bool(options, 'leaseReads', false);
  if (leaseReads && !checkQuorum) throw new RangeError('createNode: leaseReads requires checkQuorum');
  const snapshotEvery = int(options, 'snapshotEvery', 100_000, 1);
  const name = str(options, 'name') ?? id;
  // An empty name is how a member added without one shows as not started.
  if (name === '' || Buffer.byteLength(name) > MAX_NODE_ID_BYTES) throw new RangeError(`createNode: name must be 1..${MAX_NODE_ID_BYTES} bytes`);
  const config: NodeConfig = {
    id,
    name,
    peers,
    join,
    dataDir,
    storage: options.storage,
    transport: options.transport,
    token: str(options, 'token'),
    restoreFrom: str(options, 'restoreFrom'),
    client: options.client,
    codec: options.codec,
    logger: options.logger === undefined ? defaultLogger : memberLogger(options.logger, id),
    heartbeatMs,
    ticksPerHeartbeat,
    tickMs,
    electionTimeoutMs,
    electionTicks: Math.max(ticksPerHeartbeat + 1, Math.round(electionTimeoutMs / tickMs)),
    preVote: bool(options, 'preVote', true),
    checkQuorum,
    leaseReads,
    snapshotEvery,
    snapshotEveryBytes: int(options, 'snapshotEveryBytes', 64 * 1024 * 1024, 1),
    snapshotCatchUpEntries: int(options, 'snapshotCatchUpEntries', Math.min(5_000, snapshotEvery), 0),
    snapshotCatchUpBytes: int(options, 'snapshotCatchUpBytes', 16 * 1024 * 1024, 0),
    requestTimeoutMs: int(options, 'requestTimeoutMs', 5_000, 1),
    closeTimeoutMs: int(options, 'closeTimeoutMs', 2_000, 0),
    maxRequestBytes: int(options, 'maxRequestBytes', DEFAULT_MAX_REQUEST_BYTES, MIN_MAX_REQUEST_BYTES, MAX_MAX_REQUEST_BYTES),
    maxTxnOps: int(options, 'maxTxnOps', DEFAULT_MAX_TXN_OPS, 1),
    maxKeyBytes: int(options, 'maxKeyBytes', DEFAULT_MAX_KEY_BYTES, 1),
    maxPendingProposals: int(options, 'maxPendingProposals', 10_000, 1),
    maxPendingReads: int(options, 'maxPendingReads', 10_000, 1),
    maxWatchBufferedEvents: int(options, 'maxWatchBufferedEvents', 10_000, 1),
    dedupeEntries: int(options, 'dedupeEntries', 10_000, 1),
    progressIntervalMs: int(options, 'progressIntervalMs', 1_000, 1),
    minLeaseTtlMs: Math.ceil(1.5 * electionTimeoutMs),
    now: fn(options, 'now', Date.now),
    random: fn(options, 'random', Math.random),
    metrics,
  };
  if (join && Object.keys(peers).length < 2) throw new RangeError('createNode: join needs peers naming at least one running member');
  if (config.restoreFrom !== undefined && join) throw new RangeError('createNode: restoreFrom cannot be combined with join');
  return Object.freeze(config);
}
