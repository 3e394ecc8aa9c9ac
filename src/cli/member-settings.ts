/**
 * The standalone member's settings: each is a flag, environment variables (`QUORUMKV_*`, and
 * etcd's `ETCD_*` where they mean the same) and keys of an etcd-shaped YAML config file. The
 * table is all the CLI's parser needs (member-config.ts resolves the values, and is loaded only
 * to run a member, with its YAML parser).
 */
import { readFileSync } from 'node:fs';
import { CliError, EXIT_BAD_ARGS } from './errors.ts';

/** The member's settings as strings, before validation (member.ts validates them). */
export interface MemberFlags {
  readonly name: string;
  readonly dataDir?: string;
  /** Absent: this member's own entry of `initialCluster`, else `ws://127.0.0.1:2380`. */
  readonly listenPeerUrl?: string;
  readonly initialCluster?: string;
  readonly initialClusterState: string;
  readonly listenClientUrl: string;
  readonly heartbeatInterval: string;
  readonly electionTimeout: string;
  readonly snapshotCount: string;
  /** etcd's `--max-request-bytes`: the node's and the client endpoint's `maxRequestBytes`. */
  readonly maxRequestBytes?: string;
  /** etcd's `--max-txn-ops`: the node's `maxTxnOps`. */
  readonly maxTxnOps?: string;
  /**
   * etcd's `--initial-cluster-token`, accepted so etcd command lines and config files run; it
   * changes nothing (member ids come from names; `--peer-token` keeps clusters apart).
   */
  readonly initialClusterToken?: string;
  readonly clientToken?: string;
  readonly peerToken?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly trustedCaFile?: string;
  readonly peerCertFile?: string;
  readonly peerKeyFile?: string;
  readonly peerTrustedCaFile?: string;
  readonly restoreFrom?: string;
  /** @default 'json' */
  readonly logFormat?: string;
  /** @default 'info' */
  readonly logLevel?: string;
}

/** Settings given on the command line whose value `ps` shows to every user of the machine. */
export type ExposedSecret = '--client-token' | '--peer-token';

export interface ResolvedMemberFlags {
  readonly flags: MemberFlags;
  readonly exposedSecrets: readonly ExposedSecret[];
}

export type SettingKey = keyof MemberFlags | 'clientTokenFile' | 'peerTokenFile';

export interface Setting {
  readonly key: SettingKey;
  /** commander's flag spelling, `--name <name>`. */
  readonly flag: string;
  /**
   * etcd's other spellings of the same flag (`--listen-peer-urls <urls>`), each also a flag; when
   * several are given, the first in [flag, ...aliases] wins, as the env variables' order does.
   */
  readonly aliases?: readonly string[];
  readonly description: string;
  readonly default?: string;
  /** Environment variables, the first one set wins. */
  readonly env: readonly string[];
  /** Config file keys (a dot for a nested key), the first one present wins. */
  readonly file: readonly string[];
  /** etcd's value is a comma-separated URL list; quorumkv takes exactly one URL. */
  readonly oneUrl?: true;
}

/** Every member setting. program.ts declares the flags from this table, so they cannot drift. */
export const MEMBER_SETTINGS: readonly Setting[] = [
  { key: 'name', flag: '--name <name>', description: 'member name', default: 'default', env: ['QUORUMKV_NAME', 'ETCD_NAME'], file: ['name'] },
  { key: 'dataDir', flag: '--data-dir <dir>', description: 'data directory (default: <name>.quorumkv)', env: ['QUORUMKV_DATA_DIR', 'ETCD_DATA_DIR'], file: ['data-dir'] },
  {
    key: 'listenPeerUrl',
    flag: '--listen-peer-url <url>',
    aliases: ['--listen-peer-urls <urls>', '--initial-advertise-peer-urls <urls>'],
    description: "peer URL to listen on, ws:// or wss:// (default: this member's entry of --initial-cluster, else ws://127.0.0.1:2380)",
    env: ['QUORUMKV_LISTEN_PEER_URL', 'ETCD_LISTEN_PEER_URLS', 'ETCD_INITIAL_ADVERTISE_PEER_URLS'],
    file: ['listen-peer-urls', 'initial-advertise-peer-urls'],
    oneUrl: true,
  },
  { key: 'initialCluster', flag: '--initial-cluster <list>', description: 'name=ws://host:port,… of every initial member (default: just this one)', env: ['QUORUMKV_INITIAL_CLUSTER', 'ETCD_INITIAL_CLUSTER'], file: ['initial-cluster'] },
  { key: 'initialClusterState', flag: '--initial-cluster-state <state>', description: 'new (bootstrap) or existing (join a running cluster)', default: 'new', env: ['QUORUMKV_INITIAL_CLUSTER_STATE', 'ETCD_INITIAL_CLUSTER_STATE'], file: ['initial-cluster-state'] },
  {
    key: 'listenClientUrl',
    flag: '--listen-client-url <url>',
    aliases: ['--listen-client-urls <urls>', '--advertise-client-urls <urls>'],
    description: 'client URL to serve the JSON API on (http:// or https://)',
    default: 'http://127.0.0.1:2379',
    env: ['QUORUMKV_LISTEN_CLIENT_URL', 'ETCD_LISTEN_CLIENT_URLS', 'ETCD_ADVERTISE_CLIENT_URLS'],
    file: ['listen-client-urls', 'advertise-client-urls'],
    oneUrl: true,
  },
  { key: 'heartbeatInterval', flag: '--heartbeat-interval <ms>', description: 'leader heartbeat interval in ms', default: '100', env: ['QUORUMKV_HEARTBEAT_INTERVAL', 'ETCD_HEARTBEAT_INTERVAL'], file: ['heartbeat-interval'] },
  { key: 'electionTimeout', flag: '--election-timeout <ms>', description: 'election timeout in ms', default: '1000', env: ['QUORUMKV_ELECTION_TIMEOUT', 'ETCD_ELECTION_TIMEOUT'], file: ['election-timeout'] },
  { key: 'snapshotCount', flag: '--snapshot-count <n>', description: 'applied entries between snapshots', default: '100000', env: ['QUORUMKV_SNAPSHOT_COUNT', 'ETCD_SNAPSHOT_COUNT'], file: ['snapshot-count'] },
  { key: 'maxRequestBytes', flag: '--max-request-bytes <bytes>', description: 'largest client request (keys + values) in bytes (default: 1572864)', env: ['QUORUMKV_MAX_REQUEST_BYTES', 'ETCD_MAX_REQUEST_BYTES'], file: ['max-request-bytes'] },
  { key: 'maxTxnOps', flag: '--max-txn-ops <n>', description: 'most operations in one txn (default: 128)', env: ['QUORUMKV_MAX_TXN_OPS', 'ETCD_MAX_TXN_OPS'], file: ['max-txn-ops'] },
  {
    key: 'initialClusterToken',
    flag: '--initial-cluster-token <token>',
    description: "accepted for etcd's command lines; no effect (member ids come from names; --peer-token keeps clusters apart)",
    env: ['QUORUMKV_INITIAL_CLUSTER_TOKEN', 'ETCD_INITIAL_CLUSTER_TOKEN'],
    file: ['initial-cluster-token'],
  },
  { key: 'clientToken', flag: '--client-token <token>', description: 'bearer token clients must send (visible in ps: prefer QUORUMKV_CLIENT_TOKEN or --client-token-file)', env: ['QUORUMKV_CLIENT_TOKEN'], file: [] },
  { key: 'clientTokenFile', flag: '--client-token-file <file>', description: 'file holding the client bearer token', env: ['QUORUMKV_CLIENT_TOKEN_FILE'], file: ['client-token-file'] },
  { key: 'peerToken', flag: '--peer-token <token>', description: 'cluster token peers must present (visible in ps: prefer QUORUMKV_PEER_TOKEN or --peer-token-file)', env: ['QUORUMKV_PEER_TOKEN'], file: [] },
  { key: 'peerTokenFile', flag: '--peer-token-file <file>', description: 'file holding the peer token', env: ['QUORUMKV_PEER_TOKEN_FILE'], file: ['peer-token-file'] },
  { key: 'certFile', flag: '--cert-file <file>', description: 'client endpoint TLS certificate', env: ['QUORUMKV_CERT_FILE', 'ETCD_CERT_FILE'], file: ['client-transport-security.cert-file'] },
  { key: 'keyFile', flag: '--key-file <file>', description: 'client endpoint TLS key', env: ['QUORUMKV_KEY_FILE', 'ETCD_KEY_FILE'], file: ['client-transport-security.key-file'] },
  { key: 'trustedCaFile', flag: '--trusted-ca-file <file>', description: 'CA for client certificates (enables mutual TLS)', env: ['QUORUMKV_TRUSTED_CA_FILE', 'ETCD_TRUSTED_CA_FILE'], file: ['client-transport-security.trusted-ca-file'] },
  { key: 'peerCertFile', flag: '--peer-cert-file <file>', description: 'peer TLS certificate', env: ['QUORUMKV_PEER_CERT_FILE', 'ETCD_PEER_CERT_FILE'], file: ['peer-transport-security.cert-file'] },
  { key: 'peerKeyFile', flag: '--peer-key-file <file>', description: 'peer TLS key', env: ['QUORUMKV_PEER_KEY_FILE', 'ETCD_PEER_KEY_FILE'], file: ['peer-transport-security.key-file'] },
  { key: 'peerTrustedCaFile', flag: '--peer-trusted-ca-file <file>', description: 'CA for peer certificates', env: ['QUORUMKV_PEER_TRUSTED_CA_FILE', 'ETCD_PEER_TRUSTED_CA_FILE'], file: ['peer-transport-security.trusted-ca-file'] },
  { key: 'restoreFrom', flag: '--restore-from <file>', description: 'bootstrap an empty data dir from a quorumkv backup or an etcd snapshot file', env: ['QUORUMKV_RESTORE_FROM'], file: ['restore-from'] },
  { key: 'logFormat', flag: '--log-format <format>', description: 'json (one object per line) or text', default: 'json', env: ['QUORUMKV_LOG_FORMAT'], file: ['log-format'] },
  { key: 'logLevel', flag: '--log-level <level>', description: 'debug, info, warn or error', default: 'info', env: ['QUORUMKV_LOG_LEVEL', 'ETCD_LOG_LEVEL'], file: ['log-level'] },
];

/** Largest token file read: a token is a line, not a document. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

export type Environment = Readonly<Record<string, string | undefined>>;

/** `--config-file` and its variables, which are not settings of the table (they name the file). */
export const CONFIG_FILE_ENV = ['QUORUMKV_CONFIG_FILE', 'ETCD_CONFIG_FILE'] as const;

/** A secret from a file: its first line, surrounding whitespace trimmed. */
export function readTokenFile(path: string | undefined, what: string): string | undefined {
  if (path === undefined) return undefined;
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, EXIT_BAD_ARGS);
  }
  if (raw.length > MAX_TOKEN_FILE_BYTES) throw new CliError(`${what} ${path} is over ${MAX_TOKEN_FILE_BYTES} bytes`, EXIT_BAD_ARGS);
  const token = (raw.toString('utf8').split('\n', 1)[0] ?? '').trim();
  if (token === '') throw new CliError(`${what} ${path} is empty`, EXIT_BAD_ARGS);
  return token;
}
