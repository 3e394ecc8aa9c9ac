/**
 * Validates the client endpoint options eagerly into a frozen config; every problem is a
 * `RangeError` naming the field (docs/contributing.md, habit 5).
 */
import { DEFAULT_MAX_REQUEST_BYTES, MAX_MAX_REQUEST_BYTES, MIN_MAX_REQUEST_BYTES } from '../limits.ts';
import { checkMemberUrls, CLIENT_PROTOCOLS } from '../node/member-attributes.ts';
import type { ClientEndpointConfig, ClientEndpointOptions, ClientTlsOptions } from './types.ts';

const MIB = 1024 * 1024;

/**
 * Every option name, typed so that a field added to ClientEndpointOptions must be added here:
 * a name not in it is a typo, refused instead of silently changing nothing.
 */
const OPTION_NAMES: Readonly<Record<keyof ClientEndpointOptions, true>> = {
  host: true,
  port: true,
  listen: true,
  tls: true,
  token: true,
  maxRequestBytes: true,
  requestOverheadBytes: true,
  maxConnections: true,
  maxWatchStreams: true,
  maxSnapshotStreams: true,
  maxWatchBufferBytes: true,
  snapshotChunkBytes: true,
  requestTimeoutMs: true,
  requestReadTimeoutMs: true,
  advertiseUrls: true,
};
const TLS_NAMES: Readonly<Record<keyof ClientTlsOptions, true>> = { cert: true, key: true, ca: true };
const LISTEN_NAMES: Readonly<Record<'host' | 'port', true>> = { host: true, port: true };

/** A RangeError naming the keys of `value` that `known` lacks (`where`: `tls.`, `listen.` or ''). */
function refuseUnknown(value: object, known: Readonly<Record<string, true>>, where: string): void {
  const unknown = Object.keys(value).filter((k) => !Object.hasOwn(known, k));
  if (unknown.length === 0) return;
  const names = unknown.map((k) => JSON.stringify(`${where}${k}`)).join(', ');
  throw new RangeError(`startClientServer: unknown option${unknown.length === 1 ? '' : 's'} ${names}`);
}

function int(value: unknown, field: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`startClientServer: ${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function pem(value: unknown, field: string): string | Uint8Array {
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  throw new RangeError(`startClientServer: ${field} must be PEM text or bytes`);
}

function tlsOf(value: unknown): ClientTlsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new RangeError('startClientServer: tls must be an object { cert, key, ca? }');
  refuseUnknown(value, TLS_NAMES, 'tls.');
  const t = value as Record<string, unknown>;
  const cert = pem(t['cert'], 'tls.cert');
  const key = pem(t['key'], 'tls.key');
  return t['ca'] === undefined ? { cert, key } : { cert, key, ca: pem(t['ca'], 'tls.ca') };
}

function advertiseUrlsOf(value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  try {
    return Object.freeze(checkMemberUrls(value, 'advertiseUrls', CLIENT_PROTOCOLS, false));
  } catch (err) {
    throw new RangeError(`startClientServer: ${(err as Error).message.replace(/^node: /, '')}`);
  }
}

export function normalizeClientOptions(options: ClientEndpointOptions | undefined): ClientEndpointConfig {
  const o: ClientEndpointOptions = options ?? {};
  if (typeof o !== 'object' || o === null) throw new RangeError('startClientServer: options must be an object');
  refuseUnknown(o, OPTION_NAMES, '');
  if (o.listen !== undefined && (typeof o.listen !== 'object' || o.listen === null)) throw new RangeError('startClientServer: listen must be { host, port }');
  if (o.listen !== undefined) refuseUnknown(o.listen, LISTEN_NAMES, 'listen.');
  const host = o.listen?.host ?? o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new RangeError('startClientServer: host must be a non-empty string');
  const token = o.token;
  if (token !== undefined && (typeof token !== 'string' || token === '')) throw new RangeError('startClientServer: token must be a non-empty string');
  const maxRequestBytes = int(o.maxRequestBytes, 'maxRequestBytes', DEFAULT_MAX_REQUEST_BYTES, MIN_MAX_REQUEST_BYTES, MAX_MAX_REQUEST_BYTES);
  const overhead = int(o.requestOverheadBytes, 'requestOverheadBytes', 64 * 1024, 0);
  return Object.freeze({
    host,
    port: int(o.listen?.port ?? o.port, 'port', 2379, 0, 65535),
    tls: tlsOf(o.tls),
    token,
    maxRequestBytes,
    maxBodyBytes: Math.ceil((maxRequestBytes * 4) / 3) + overhead,
    maxConnections: int(o.maxConnections, 'maxConnections', 1024, 1),
    maxWatchStreams: int(o.maxWatchStreams, 'maxWatchStreams', 1000, 0),
    maxSnapshotStreams: int(o.maxSnapshotStreams, 'maxSnapshotStreams', 2, 0),
    maxWatchBufferBytes: int(o.maxWatchBufferBytes, 'maxWatchBufferBytes', 4 * MIB, 1024),
    snapshotChunkBytes: int(o.snapshotChunkBytes, 'snapshotChunkBytes', 64 * 1024, 1024, 16 * MIB),
    requestTimeoutMs: o.requestTimeoutMs === undefined ? undefined : int(o.requestTimeoutMs, 'requestTimeoutMs', 0, 1),
    requestReadTimeoutMs: int(o.requestReadTimeoutMs, 'requestReadTimeoutMs', 30_000, 1),
    advertiseUrls: advertiseUrlsOf(o.advertiseUrls),
  });
}
