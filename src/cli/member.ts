/**
 * `quorumkv member …`: a standalone cluster member — a process that does nothing but be a member
 * and serve the client endpoint, configured with etcd's flag names, environment variables or
 * config file (member-config.ts). Values are stored as raw bytes (the gateway's raw codec), so
 * etcdctl-style string values round-trip exactly. Everything it logs goes through one logger
 * (member-logger.ts; JSON lines by default). It stops cleanly on SIGTERM/SIGINT (the client
 * endpoint first, then the node, which hands leadership over if it leads) and exits 0; it exits
 * non-zero when it can no longer serve: a fatal error, or removal from the cluster.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../node/create.ts';
import type { QuorumNode } from '../node/node.ts';
import type { NodeOptions } from '../node/options.ts';
import { wsTransport } from '../transport/ws-transport.ts';
import type { Transport } from '../transport/types.ts';
import { startClientEndpoint } from '../client-endpoint.ts';
import type { ClientEndpointOptions, ClientServer } from '../gateway/server.ts';
import { rawCodec } from '../gateway/values.ts';
import { isLoopbackHost } from '../transport/ws-options.ts';
import { parseInitialCluster, restorableFile } from './commands/maintenance.ts';
import { CliError, EXIT_BAD_ARGS, EXIT_MEMBER_REMOVED, EXIT_SERVER_ERROR } from './errors.ts';
import { findJoinIdentity, rememberedId, rememberId } from './join-lookup.ts';
import type { JoinIdentity, PeerTls } from './join-lookup.ts';
import { resolveMemberFlags } from './member-config.ts';
import type { Environment, MemberFlags } from './member-settings.ts';
import { createMemberLogger, LOG_FORMATS, LOG_LEVELS } from './member-logger.ts';
import type { LogFormat, LogLevel } from './member-logger.ts';
import type { CloseEvent, Logger } from '../node/types.ts';
import type { Io } from './output.ts';

export type { MemberFlags } from './member-settings.ts';

/** Everything the member was asked to be, validated. */
interface MemberPlan {
  readonly node: NodeOptions;
  readonly client: ClientEndpointOptions;
  readonly summary: Readonly<Record<string, string>>;
  /** Security warnings to print at startup (plaintext client traffic on a real network). */
  readonly warnings: readonly string[];
}

/**
 * etcd's peer URLs are http(s):// (etcdctl member add insists on them) and ours are ws(s)://, the
 * WebSocket upgrade of the same HTTP: an http:// peer URL is read as ws://, https:// as wss://.
 */
function asPeerUrl(url: string): string {
  if (url.startsWith('http://')) return `ws://${url.slice('http://'.length)}`;
  if (url.startsWith('https://')) return `wss://${url.slice('https://'.length)}`;
  return url;
}

function mapValues(record: Readonly<Record<string, string>>, f: (value: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

/**
 * A member of `--initial-cluster-state existing`: its id as the cluster knows it, found by its
 * peer URL (join-lookup.ts), or remembered in its data dir from an earlier start. Without an
 * answer it starts under its name, as a member added by name does.
 */
async function joinPlan(f: MemberFlags, plan: MemberPlan, logger: Logger, log: Logger): Promise<MemberPlan> {
  const dataDir = plan.node.dataDir ?? `${f.name}.quorumkv`;
  const selfUrl = plan.summary['listenPeerUrl'] ?? '';
  const others = Object.entries(plan.node.peers ?? {})
    .filter(([name]) => name !== f.name)
    .map(([, url]) => url);
  const tls = peerTlsFiles(f);
  const remembered = await rememberedId(dataDir);
  let identity: JoinIdentity | undefined;
  try {
    identity = await findJoinIdentity(selfUrl, others, f.peerToken, tls);
  } catch (err) {
    // Nobody to ask (the whole cluster restarting): the remembered id, else the name, as a
    // member added by name is.
    log.warn({ err, id: remembered ?? f.name }, 'quorumkv: no member answered with the member list; starting under this id');
    if (remembered === undefined) return plan;
  }
  if (identity === undefined && remembered === undefined) {
    log.warn({ peerUrl: selfUrl }, `quorumkv: peer URL ${selfUrl} is not in the cluster's member list; add this member first (etcdctl member add)`);
    return plan;
  }
  if (identity !== undefined && remembered !== undefined && identity.id !== remembered) {
    // The data dir is another member's (one removed, its peer URL given to a new member).
    throw new CliError(`data dir ${dataDir} belongs to member ${remembered}, but the cluster lists ${identity.id} at ${selfUrl}; start the new member with an empty data dir`, EXIT_BAD_ARGS);
  }
  const id = identity?.id ?? remembered ?? f.name;
  await rememberId(dataDir, id);
  log.info({ id, name: f.name }, 'quorumkv: joining the cluster as the member with this peer URL');
  // Without an answer, the other members are known by their names only: this member's own entry
  // is replaced by its id.
  const named = Object.fromEntries(Object.entries(plan.node.peers ?? {}).filter(([name]) => name !== f.name));
  return planMember(f, logger, identity ?? { id, peers: { ...named, [id]: selfUrl } });
}

/** etcd's default peer URL, with the ws scheme of quorumkv's transport. */
const DEFAULT_PEER_URL = 'ws://127.0.0.1:2380';

function intFlag(raw: string, flag: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} must be an integer >= ${min}, got ${raw}`, EXIT_BAD_ARGS);
  return n;
}

function urlFlag(raw: string, flag: string, protocols: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`${flag} must be a URL (${protocols.join(' or ')}), got ${raw}`, EXIT_BAD_ARGS);
  }
  if (!protocols.includes(url.protocol) || url.port === '') throw new CliError(`${flag} must be ${protocols.join(' or ')}//host:port, got ${raw}`, EXIT_BAD_ARGS);
  return url;
}

function readFlagFile(path: string | undefined, flag: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read ${flag} ${path}: ${(err as Error).message}`, EXIT_BAD_ARGS);
  }
}

function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** A ws transport with mutual TLS, when peer certificate files are given. */
/** The peer TLS files, when all three are given (peerTransport checks the combinations). */
function peerTlsFiles(f: MemberFlags): PeerTls | undefined {
  const cert = readFlagFile(f.peerCertFile, '--peer-cert-file');
  const key = readFlagFile(f.peerKeyFile, '--peer-key-file');
  const ca = readFlagFile(f.peerTrustedCaFile, '--peer-trusted-ca-file');
  return cert === undefined || key === undefined || ca === undefined ? undefined : { cert, key, ca };
}

function peerTransport(f: MemberFlags, self: string, peerUrl: URL, peers: Readonly<Record<string, string>>, logger: Logger | undefined): Transport | undefined {
  const cert = readFlagFile(f.peerCertFile, '--peer-cert-file');
  const key = readFlagFile(f.peerKeyFile, '--peer-key-file');
  const ca = readFlagFile(f.peerTrustedCaFile, '--peer-trusted-ca-file');
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (cert === undefined || key === undefined || ca === undefined) {
    throw new CliError('peer TLS needs --peer-cert-file, --peer-key-file and --peer-trusted-ca-file together', EXIT_BAD_ARGS);
  }
  const others = Object.fromEntries(Object.entries(peers).filter(([id]) => id !== self));
  return wsTransport({
    listen: { host: hostOf(peerUrl), port: Number(peerUrl.port) },
    peers: others,
    tls: { cert, key, ca },
    ...(logger === undefined ? {} : { logger }),
    ...(f.peerToken === undefined ? {} : { token: f.peerToken }),
  });
}

function clientOptions(f: MemberFlags, clientUrl: URL): ClientEndpointOptions {
  const cert = readFlagFile(f.certFile, '--cert-file');
  const key = readFlagFile(f.keyFile, '--key-file');
  const ca = readFlagFile(f.trustedCaFile, '--trusted-ca-file');
  const secure = clientUrl.protocol === 'https:';
  if (secure && (cert === undefined || key === undefined)) throw new CliError('an https:// client URL needs --cert-file and --key-file', EXIT_BAD_ARGS);
  if (!secure && cert !== undefined) throw new CliError('--cert-file needs an https:// --listen-client-url', EXIT_BAD_ARGS);
  const tls = secure && cert !== undefined && key !== undefined ? { tls: ca === undefined ? { cert, key } : { cert, key, ca } } : {};
  return { host: hostOf(clientUrl), port: Number(clientUrl.port), ...tls, ...(f.clientToken === undefined ? {} : { token: f.clientToken }) };
}

/**
 * Validates the settings into what to start. `logger` is the member's (without the member
 * binding: the node adds it); `undefined` leaves the library's quiet defaults.
 */
export function planMember(f: MemberFlags, logger?: Logger, identity?: JoinIdentity): MemberPlan {
  if (f.name === '') throw new CliError('--name must not be empty', EXIT_BAD_ARGS);
  if (f.initialClusterState !== 'new' && f.initialClusterState !== 'existing') throw new CliError('--initial-cluster-state must be new or existing', EXIT_BAD_ARGS);
  const named = mapValues(parseInitialCluster(f.initialCluster) ?? { [f.name]: f.listenPeerUrl ?? DEFAULT_PEER_URL }, asPeerUrl);
  if (named[f.name] === undefined) throw new CliError(`--initial-cluster must include this member (${f.name})`, EXIT_BAD_ARGS);
  const listenPeerUrl = asPeerUrl(f.listenPeerUrl ?? named[f.name] ?? DEFAULT_PEER_URL);
  // A joining member's id is the one the cluster gave it (join-lookup.ts); otherwise its name.
  const id = identity?.id ?? f.name;
  const peers = identity?.peers ?? named;
  const peerUrl = urlFlag(listenPeerUrl, '--listen-peer-url', ['ws:', 'wss:']);
  const clientUrl = urlFlag(f.listenClientUrl, '--listen-client-url', ['http:', 'https:']);
  const heartbeatMs = intFlag(f.heartbeatInterval, '--heartbeat-interval', 1);
  const electionTimeoutMs = intFlag(f.electionTimeout, '--election-timeout', 2);
  const snapshotEvery = intFlag(f.snapshotCount, '--snapshot-count', 1);
  const maxRequestBytes = f.maxRequestBytes === undefined ? undefined : intFlag(f.maxRequestBytes, '--max-request-bytes', 1);
  const maxTxnOps = f.maxTxnOps === undefined ? undefined : intFlag(f.maxTxnOps, '--max-txn-ops', 1);
  const dataDir = f.dataDir ?? `${f.name}.quorumkv`;
  const memberLogger = logger?.child?.({ member: f.name }) ?? logger;
  const transport = peerTransport(f, id, peerUrl, peers, memberLogger);
  const node: NodeOptions = {
    id,
    name: f.name,
    peers,
    dataDir,
    codec: rawCodec,
    heartbeatMs,
    electionTimeoutMs,
    snapshotEvery,
    join: f.initialClusterState === 'existing',
    ...(logger === undefined ? {} : { logger }),
    ...(transport === undefined ? {} : { transport }),
    ...(f.peerToken === undefined ? {} : { token: f.peerToken }),
    ...(f.restoreFrom === undefined ? {} : { restoreFrom: f.restoreFrom }),
    ...(maxRequestBytes === undefined ? {} : { maxRequestBytes }),
    ...(maxTxnOps === undefined ? {} : { maxTxnOps }),
  };
  const summary = {
    dataDir,
    listenPeerUrl,
    listenClientUrl: f.listenClientUrl,
    heartbeatMs: String(heartbeatMs),
    electionTimeoutMs: String(electionTimeoutMs),
    snapshotCount: String(snapshotEvery),
    initialCluster: Object.entries(peers).map(([id, url]) => `${id}=${url}`).join(','),
    initialClusterState: f.initialClusterState,
  };
  const warnings: string[] = [];
  // The peer transport warns about plaintext peer traffic itself; the client endpoint does not,
  // so its warning is ours: a bearer token over plain http is readable on the wire.
  if (clientUrl.protocol === 'http:' && !isLoopbackHost(hostOf(clientUrl))) {
    warnings.push(
      `plaintext client traffic on non-loopback ${f.listenClientUrl}: requests${f.clientToken === undefined ? '' : ' and the client token'} are neither encrypted nor server-authenticated; use an https:// --listen-client-url with --cert-file/--key-file`,
    );
  }
  const client = clientOptions(f, clientUrl);
  return { node, client: maxRequestBytes === undefined ? client : { ...client, maxRequestBytes }, summary, warnings };
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new CliError(`${flag} must be ${allowed.join(' or ')}, got ${value}`, EXIT_BAD_ARGS);
  return value as T;
}

function announce(log: Logger, node: QuorumNode): void {
  node.on('leader', ({ leader, term }) => {
    if (leader === '') log.info({ term }, 'raft: lost the leader');
    else log.info({ leader, term }, 'raft: elected leader');
  });
  node.on('member', (m) => log.info({ change: m.type, id: m.id, url: m.url, learner: m.learner }, 'membership: configuration changed'));
}

/** How the member's run ended: a signal (graceful, exit 0) or the node stopping on its own. */
type Outcome = { readonly kind: 'signal'; readonly signal: string } | { readonly kind: 'close'; readonly event: CloseEvent };

/** Resolves on the first SIGTERM or SIGINT; `dispose` removes the handlers. */
function untilSignal(): { readonly signalled: Promise<Outcome>; dispose(): void } {
  let on: (sig: string) => void = () => {};
  const signalled = new Promise<Outcome>((resolve) => {
    on = (signal: string): void => resolve({ kind: 'signal', signal });
  });
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return {
    signalled,
    dispose: () => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    },
  };
}

/** The exit code of a member that stopped on its own, logged with its reason. */
function exitCodeOf(log: Logger, outcome: Outcome): number {
  if (outcome.kind === 'signal') {
    log.info({ signal: outcome.signal }, 'quorumkv: received a signal; shutting down');
    return 0;
  }
  const event = outcome.event;
  if (event.reason === 'fatal') {
    log.error({ err: event.error }, 'quorumkv: the member stopped after a fatal error');
    return EXIT_SERVER_ERROR;
  }
  if (event.reason === 'removed') {
    log.error({}, 'quorumkv: this member was removed from the cluster');
    return EXIT_MEMBER_REMOVED;
  }
  return 0;
}

/**
 * Runs the member until a signal or until it stops on its own; resolves with the process exit
 * code. `cli` holds the flags given on the command line (commander's parsed options).
 */
/**
 * Starts the node; a `--restore-from` etcd snapshot is turned into a backup first (in a scratch
 * dir removed once the node has bootstrapped from it), but only for an empty data dir: on any
 * other the node ignores `restoreFrom` anyway.
 */
async function startRestoring(options: NodeOptions): Promise<QuorumNode> {
  const { restoreFrom, dataDir } = options;
  const fresh = dataDir === undefined || (await readdir(dataDir).catch(() => [] as string[])).length === 0;
  if (restoreFrom === undefined || !fresh) return startNode(options);
  const scratch = await mkdtemp(join(tmpdir(), 'quorumkv-restore-'));
  try {
    return await startNode({ ...options, restoreFrom: await restorableFile(restoreFrom, scratch) });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export async function runMember(cli: Readonly<Record<string, unknown>>, io: Io, env: Environment): Promise<number> {
  let flags: MemberFlags;
  let root: Logger;
  try {
    const resolved = resolveMemberFlags(cli, env);
    flags = resolved.flags;
    const format = oneOf<LogFormat>(flags.logFormat ?? 'json', LOG_FORMATS, '--log-format');
    const level = oneOf<LogLevel>(flags.logLevel ?? 'info', LOG_LEVELS, '--log-level');
    root = createMemberLogger({ format, level, write: (line) => io.out(line) });
    for (const flag of resolved.exposedSecrets) {
      root.warn({ member: flags.name, flag }, `quorumkv: ${flag} on the command line is visible to every user in ps; use its environment variable or ${flag}-file`);
    }
  } catch (err) {
    // No logger yet (its own settings are what failed): one plain line, as for any bad flag.
    io.err(`${err instanceof CliError ? err.line() : `Error:  ${(err as Error).message}`}\n`);
    return err instanceof CliError ? err.exitCode : EXIT_BAD_ARGS;
  }
  const log = root.child?.({ member: flags.name }) ?? root;
  let plan: MemberPlan;
  try {
    plan = planMember(flags, root);
    if (flags.initialClusterState === 'existing') plan = await joinPlan(flags, plan, root, log);
  } catch (err) {
    log.error({ err }, `quorumkv: ${(err as Error).message}`);
    return err instanceof CliError ? err.exitCode : EXIT_BAD_ARGS;
  }
  log.info(plan.summary, 'quorumkv: starting member');
  for (const warning of plan.warnings) log.warn({}, `quorumkv: ${warning}`);
  // A bug that escapes every handler would end the process with a plain stack trace on stderr:
  // it ends it the same way (exit 4), with the error as a log line like every other.
  const onUncaught = (err: unknown): void => {
    log.error({ err }, 'quorumkv: uncaught exception; exiting');
    process.exit(EXIT_SERVER_ERROR);
  };
  process.on('uncaughtException', onUncaught);
  const signals = untilSignal();
  let node: QuorumNode | undefined;
  let server: ClientServer | undefined;
  try {
    node = await startRestoring(plan.node);
    const started = node;
    const closed = new Promise<Outcome>((resolve) => started.once('close', (event) => resolve({ kind: 'close', event })));
    announce(log, node);
    const known = node.status();
    if (known.leader !== '') log.info({ leader: known.leader, term: known.term }, 'raft: elected leader');
    server = await startClientEndpoint(node, plan.client);
    log.info({ url: server.url }, 'quorumkv: serving client requests');
    node.ready({ timeoutMs: 2 ** 31 - 1 }).then(
      () => log.info({ leader: started.status().leader }, 'quorumkv: ready to serve client requests'),
      (err: unknown) => {
        if (!started.closed) log.warn({ err }, 'quorumkv: not ready');
      },
    );
    return exitCodeOf(log, await Promise.race([signals.signalled, closed]));
  } catch (err) {
    log.error({ err }, 'quorumkv: the member failed to start');
    return EXIT_SERVER_ERROR;
  } finally {
    signals.dispose();
    process.off('uncaughtException', onUncaught);
    await server?.close().catch(() => {});
    log.debug({}, 'quorumkv: client endpoint closed');
    await node?.close().catch(() => {});
    log.info({}, 'quorumkv: stopped');
  }
}
