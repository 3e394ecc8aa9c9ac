/**
 * Who may call which JSON gateway route when auth is enabled — the same rules as gRPC's
 * (src/grpc/access.ts; docs/auth.md): the caller is resolved from `Authorization: <token>` (etcd's
 * grpc-gateway) or a `token` header, key-bearing routes check READ/WRITE on the keys of the body
 * (every op of a txn, both branches), admin routes need root. A route missing from the table
 * needs root.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidArgumentError, LeaseNotFoundError } from '../errors.ts';
import type { AuthApi, AuthIdentity } from '../node/auth/auth-api.ts';
import type { QuorumNode } from '../node/node.ts';
import { asObject, optArray, optBool, optBytes, optInt, pick } from './validate.ts';
import type { Body } from './validate.ts';

export type RouteAccess = 'public' | 'user' | 'keys' | 'self' | 'root';

const ACCESS: Readonly<Record<string, RouteAccess>> = Object.freeze({
  '/v3/kv/range': 'keys',
  '/v3/kv/put': 'keys',
  '/v3/kv/deleterange': 'keys',
  '/v3/kv/txn': 'keys',
  '/v3/kv/compaction': 'root',
  '/v3/watch': 'keys',
  '/v3/lease/grant': 'user',
  '/v3/lease/revoke': 'keys',
  '/v3/kv/lease/revoke': 'keys',
  '/v3/lease/keepalive': 'user',
  '/v3/lease/timetolive': 'user',
  '/v3/kv/lease/timetolive': 'user',
  '/v3/lease/leases': 'user',
  '/v3/kv/lease/leases': 'user',
  '/v3/maintenance/status': 'public',
  '/v3/cluster/member/list': 'public',
  '/v3/auth/authenticate': 'public',
  '/v3/auth/user/get': 'self',
  '/v3/auth/role/get': 'self',
});

export function routeAccess(path: string): RouteAccess {
  return ACCESS[path] ?? 'root';
}

/** The etcd auth token of a request: the `token` header, else `Authorization` unless that holds the endpoint's own token. */
export function requestToken(headers: IncomingHttpHeaders, endpointTokenConfigured: boolean): string | undefined {
  const token = headers['token'];
  if (typeof token === 'string') return token;
  const auth = headers.authorization;
  if (!endpointTokenConfigured && typeof auth === 'string') return auth.startsWith('Bearer ') ? auth.slice(7) : auth;
  return undefined;
}

/** Resolves the caller and applies the route-level rule (keys are checked by {@link checkBodyKeys}). */
export function identifyRequest(node: QuorumNode, headers: IncomingHttpHeaders, access: RouteAccess, endpointTokenConfigured: boolean): AuthIdentity {
  if (access === 'public') return node.auth.identify(undefined);
  const who = node.auth.identify(requestToken(headers, endpointTokenConfigured));
  if (access === 'root') node.auth.requireRoot(who);
  else node.auth.requireUser(who);
  return who;
}

const NONE = new Uint8Array(0);

function keysOf(b: Body): { key: Uint8Array; rangeEnd: Uint8Array } {
  return { key: optBytes(b, 'key') ?? NONE, rangeEnd: optBytes(b, 'range_end') ?? NONE };
}

/** Bounded like the txn route itself (routes-kv.ts MAX_TXN_DEPTH). */
const MAX_DEPTH = 16;

function checkOp(auth: AuthApi, who: AuthIdentity, raw: unknown, depth: number): void {
  const r = asObject(raw, 'request op');
  const range = pick(r, 'request_range');
  const put = pick(r, 'request_put');
  const del = pick(r, 'request_delete_range');
  const txn = pick(r, 'request_txn');
  if (range !== undefined) checkKeys(auth, who, '/v3/kv/range', asObject(range, 'request_range'), depth);
  if (put !== undefined) checkKeys(auth, who, '/v3/kv/put', asObject(put, 'request_put'), depth);
  if (del !== undefined) checkKeys(auth, who, '/v3/kv/deleterange', asObject(del, 'request_delete_range'), depth);
  if (txn !== undefined) checkKeys(auth, who, '/v3/kv/txn', asObject(txn, 'request_txn'), depth + 1);
}

function checkKeys(auth: AuthApi, who: AuthIdentity, path: string, body: Body, depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(`gateway: txn nested deeper than ${MAX_DEPTH}`);
  const { key, rangeEnd } = keysOf(body);
  switch (path) {
    case '/v3/kv/range':
      auth.requireKeys(who, 'read', key, rangeEnd);
      return;
    case '/v3/kv/put':
      auth.requireKeys(who, 'write', key);
      if (optBool(body, 'prev_kv')) auth.requireKeys(who, 'read', key);
      return;
    case '/v3/kv/deleterange':
      auth.requireKeys(who, 'write', key, rangeEnd);
      if (optBool(body, 'prev_kv')) auth.requireKeys(who, 'read', key, rangeEnd);
      return;
    case '/v3/kv/txn':
      for (const c of optArray(body, 'compare')) {
        const k = keysOf(asObject(c, 'compare[]'));
        auth.requireKeys(who, 'read', k.key, k.rangeEnd);
      }
      for (const o of [...optArray(body, 'success'), ...optArray(body, 'failure')]) checkOp(auth, who, o, depth);
      return;
    case '/v3/watch': {
      const create = pick(body, 'create_request');
      if (create === undefined) return;
      const k = keysOf(asObject(create, 'create_request'));
      // etcd: an empty key watches "\0".
      auth.requireKeys(who, 'read', k.key.length === 0 ? Uint8Array.of(0) : k.key, k.rangeEnd);
      return;
    }
  }
}

const utf8 = new TextEncoder();

/**
 * WRITE on every key attached to lease `id` (etcd's checkLeasePuts: a revoke deletes them, a put
 * attaches one more). An unknown lease passes here; the route answers it.
 */
async function checkLeaseKeys(node: QuorumNode, who: AuthIdentity, id: number | undefined, call: { readonly signal: AbortSignal }): Promise<void> {
  if (id === undefined || id <= 0) return;
  let keys: readonly string[];
  try {
    keys = (await node.leaseTimeToLive(id, { keys: true, ...call })).keys;
  } catch (err) {
    if (err instanceof LeaseNotFoundError) return;
    throw err;
  }
  for (const k of keys) node.auth.requireKeys(who, 'write', utf8.encode(k));
}

/** The leases the puts of a txn body attach keys to (nesting bounded by checkKeys first). */
function txnLeases(body: Body, out: Set<number>): Set<number> {
  for (const raw of [...optArray(body, 'success'), ...optArray(body, 'failure')]) {
    const r = asObject(raw, 'request op');
    const put = pick(r, 'request_put');
    const txn = pick(r, 'request_txn');
    if (put !== undefined) out.add(optInt(asObject(put, 'request_put'), 'lease') ?? 0);
    if (txn !== undefined) txnLeases(asObject(txn, 'request_txn'), out);
  }
  return out;
}

/** Throws unless the caller may touch every key the request body names. */
export async function checkBodyKeys(node: QuorumNode, who: AuthIdentity, path: string, body: Body, call: { readonly signal: AbortSignal }): Promise<void> {
  if (who.kind === 'open') return;
  if (path === '/v3/lease/revoke' || path === '/v3/kv/lease/revoke') return checkLeaseKeys(node, who, optInt(body, 'ID', 1), call);
  checkKeys(node.auth, who, path, body, 0);
  if (path === '/v3/kv/put') await checkLeaseKeys(node, who, optInt(body, 'lease'), call);
  if (path === '/v3/kv/txn') for (const id of txnLeases(body, new Set())) await checkLeaseKeys(node, who, id, call);
}
