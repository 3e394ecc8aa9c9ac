/**
 * `quorumkv member …`: a standalone cluster member — a process that does nothing but be a member
 * and serve the JSON client endpoint, configured with etcd's flag names. Values are stored as
 * raw bytes (the gateway's raw codec), so etcdctl-style string values round-trip exactly.
 * Prints an etcd-like startup summary and the elected leader, and stops cleanly on SIGTERM/SIGINT
 * (the client endpoint first, then the node, which hands leadership over if it leads).
 */
import { readFileSync } from 'node:fs';
import { startNode } from '../node/create.ts';
import type { QuorumNode } from '../node/node.ts';
import type { NodeOptions } from '../node/options.ts';
import { wsTransport } from '../transport/ws-transport.ts';
import type { Transport } from '../transport/types.ts';
import { startClientEndpoint } from '../client-endpoint.ts';
import type { ClientEndpointOptions, ClientServer } from '../gateway/server.ts';
import { rawCodec } from '../gateway/values.ts';
import { isLoopbackHost } from '../transport/ws-options.ts';
import { parseInitialCluster } from './commands/maintenance.ts';
import { CliError, EXIT_BAD_ARGS, EXIT_SERVER_ERROR } from './errors.ts';
import type { Io } from './output.ts';

export interface MemberFlags {
  readonly name: string;
  readonly dataDir?: string;
  readonly listenPeerUrl: string;
  readonly initialCluster?: string;
  readonly initialClusterState: string;
  readonly listenClientUrl: string;
  readonly heartbeatInterval: string;
  readonly electionTimeout: string;
  readonly snapshotCount: string;
  readonly clientToken?: string;
  readonly peerToken?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly trustedCaFile?: string;
  readonly peerCertFile?: string;
  readonly peerKeyFile?: string;
  readonly peerTrustedCaFile?: string;
  readonly restoreFrom?: string;
}

/** Everything the member was asked to be, validated. */
interface MemberPlan {
  readonly node: NodeOptions;
  readonly client: ClientEndpointOptions;
  readonly summary: readonly [string, string][];
  /** Security warnings to print at startup (plaintext client traffic on a real network). */
  readonly warnings: readonly string[];
}

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
function peerTransport(f: MemberFlags, peerUrl: URL, peers: Record<string, string>): Transport | undefined {
  const cert = readFlagFile(f.peerCertFile, '--peer-cert-file');
  const key = readFlagFile(f.peerKeyFile, '--peer-key-file');
  const ca = readFlagFile(f.peerTrustedCaFile, '--peer-trusted-ca-file');
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (cert === undefined || key === undefined || ca === undefined) {
    throw new CliError('peer TLS needs --peer-cert-file, --peer-key-file and --peer-trusted-ca-file together', EXIT_BAD_ARGS);
  }
  const others = Object.fromEntries(Object.entries(peers).filter(([id]) => id !== f.name));
  return wsTransport({ listen: { host: hostOf(peerUrl), port: Number(peerUrl.port) }, peers: others, tls: { cert, key, ca }, ...(f.peerToken === undefined ? {} : { token: f.peerToken }) });
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

export function planMember(f: MemberFlags): MemberPlan {
  if (f.name === '') throw new CliError('--name must not be empty', EXIT_BAD_ARGS);
  const peerUrl = urlFlag(f.listenPeerUrl, '--listen-peer-url', ['ws:', 'wss:']);
  const clientUrl = urlFlag(f.listenClientUrl, '--listen-client-url', ['http:', 'https:']);
  const heartbeatMs = intFlag(f.heartbeatInterval, '--heartbeat-interval', 1);
  const electionTimeoutMs = intFlag(f.electionTimeout, '--election-timeout', 2);
  const snapshotEvery = intFlag(f.snapshotCount, '--snapshot-count', 1);
  if (f.initialClusterState !== 'new' && f.initialClusterState !== 'existing') throw new CliError('--initial-cluster-state must be new or existing', EXIT_BAD_ARGS);
  const peers = parseInitialCluster(f.initialCluster) ?? { [f.name]: f.listenPeerUrl };
  if (peers[f.name] === undefined) throw new CliError(`--initial-cluster must include this member (${f.name})`, EXIT_BAD_ARGS);
  const dataDir = f.dataDir ?? `${f.name}.quorumkv`;
  const transport = peerTransport(f, peerUrl, peers);
  const node: NodeOptions = {
    id: f.name,
    peers,
    dataDir,
    codec: rawCodec,
    heartbeatMs,
    electionTimeoutMs,
    snapshotEvery,
    join: f.initialClusterState === 'existing',
    ...(transport === undefined ? {} : { transport }),
    ...(f.peerToken === undefined ? {} : { token: f.peerToken }),
    ...(f.restoreFrom === undefined ? {} : { restoreFrom: f.restoreFrom }),
  };
  const summary: [string, string][] = [
    ['name', f.name],
    ['data dir', dataDir],
    ['listen peer URL', f.listenPeerUrl],
    ['listen client URL', f.listenClientUrl],
    ['heartbeat', `${heartbeatMs}ms`],
    ['election', `${electionTimeoutMs}ms`],
    ['snapshot count', String(snapshotEvery)],
    ['initial cluster', Object.entries(peers).map(([id, url]) => `${id}=${url}`).join(',')],
    ['initial cluster state', f.initialClusterState],
  ];
  const warnings: string[] = [];
  // The peer transport warns about plaintext peer traffic itself; the client endpoint has no
  // logger, so its warning is ours: a bearer token over plain http is readable on the wire.
  if (clientUrl.protocol === 'http:' && !isLoopbackHost(hostOf(clientUrl))) {
    warnings.push(
      `plaintext client traffic on non-loopback ${f.listenClientUrl}: requests${f.clientToken === undefined ? '' : ' and the client token'} are neither encrypted nor server-authenticated; use an https:// --listen-client-url with --cert-file/--key-file`,
    );
  }
  return { node, client: clientOptions(f, clientUrl), summary, warnings };
}

function logLine(io: Io, level: 'I' | 'W' | 'E' | 'N', who: string, text: string): void {
  const stamp = new Date().toISOString().replace('T', ' ').replace('Z', '');
  io.out(`${stamp} ${level} | ${who}: ${text}\n`);
}

function announce(io: Io, node: QuorumNode): void {
  node.on('leader', ({ leader, term }) => {
    if (leader === '') logLine(io, 'I', 'raft', `${node.id} lost the leader at term ${term}`);
    else logLine(io, 'I', 'raft', `raft.node: ${node.id} elected leader ${leader} at term ${term}`);
  });
  node.on('member', (m) => logLine(io, 'I', 'membership', `${m.type} member ${m.id}${m.url === '' ? '' : ` [${m.url}]`}${m.learner ? ' (learner)' : ''}`));
  node.on('error', (err) => logLine(io, 'E', 'quorumkv', err.message));
}

/** Waits for SIGTERM or SIGINT. */
function untilSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    const on = (sig: string): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/** Runs the member until a signal; resolves with the process exit code. */
export async function runMember(flags: MemberFlags, io: Io): Promise<number> {
  let plan: MemberPlan;
  try {
    plan = planMember(flags);
  } catch (err) {
    io.err(`${err instanceof CliError ? err.line() : `Error:  ${(err as Error).message}`}\n`);
    return err instanceof CliError ? err.exitCode : EXIT_BAD_ARGS;
  }
  for (const [label, value] of plan.summary) logLine(io, 'I', 'quorumkv', `${label} = ${value}`);
  for (const warning of plan.warnings) logLine(io, 'W', 'quorumkv', warning);
  const stopping = untilSignal();
  let node: QuorumNode | undefined;
  let server: ClientServer | undefined;
  try {
    node = await startNode(plan.node);
    announce(io, node);
    const known = node.status();
    if (known.leader !== '') logLine(io, 'I', 'raft', `raft.node: ${node.id} elected leader ${known.leader} at term ${known.term}`);
    server = await startClientEndpoint(node, plan.client);
    logLine(io, 'N', 'quorumkv', `serving client requests on ${server.url}`);
    const ready = node.ready({ timeoutMs: 2 ** 31 - 1 }).then(
      () => logLine(io, 'I', 'quorumkv', `ready to serve client requests (leader ${node?.status().leader ?? ''})`),
      (err: unknown) => logLine(io, 'W', 'quorumkv', `not ready: ${err instanceof Error ? err.message : String(err)}`),
    );
    const sig = await stopping;
    logLine(io, 'N', 'quorumkv', `received ${sig}, shutting down`);
    void ready;
    return 0;
  } catch (err) {
    io.err(`Error:  member ${flags.name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_SERVER_ERROR;
  } finally {
    await server?.close().catch(() => {});
    await node?.close().catch(() => {});
    logLine(io, 'I', 'quorumkv', 'stopped');
  }
}
