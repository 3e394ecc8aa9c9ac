/**
 * Who may call what over gRPC when auth is enabled (docs/auth.md, "Permission model"). Each
 * method has one {@link MethodAccess}; the server resolves the caller's identity from the `token`
 * (or `authorization`) metadata before the handler runs, and the handlers of key-bearing calls
 * check the keys themselves ({@link requireKeys}, {@link requireTxn}). A method missing from the
 * table needs root: a new method is closed until it is classified.
 */
import type { IncomingHttpHeaders } from 'node:http2';
import { LeaseNotFoundError } from '../errors.ts';
import type { AuthIdentity } from '../node/auth/auth-api.ts';
import type { Access } from '../node/auth/types.ts';
import type { Call } from './call.ts';
import type { GrpcContext } from './context.ts';
import { keyBytes, prefixEnd } from './keys.ts';
import type { RequestOp, TxnReq } from './messages-kv.ts';

/**
 * `public`: no identity needed (a bad token is not even looked at); `user`: every authenticated
 * user; `keys`: the handler checks READ/WRITE on the keys it touches; `self`: the handler lets a
 * user read itself or its own roles, root anything; `root`: the root role only.
 */
export type MethodAccess = 'public' | 'user' | 'keys' | 'self' | 'root';

const KV = '/etcdserverpb.KV/';
const AUTH = '/etcdserverpb.Auth/';
const MAINTENANCE = '/etcdserverpb.Maintenance/';
const CLUSTER = '/etcdserverpb.Cluster/';
const LEASE = '/etcdserverpb.Lease/';

export const METHOD_ACCESS: Readonly<Record<string, MethodAccess>> = Object.freeze({
  [`${KV}Range`]: 'keys',
  [`${KV}Put`]: 'keys',
  [`${KV}DeleteRange`]: 'keys',
  [`${KV}Txn`]: 'keys',
  // Compaction drops every key's history: root (etcd 3.4 does not check it at all).
  [`${KV}Compact`]: 'root',
  '/etcdserverpb.Watch/Watch': 'keys',
  [`${LEASE}LeaseGrant`]: 'user',
  [`${LEASE}LeaseRevoke`]: 'keys',
  [`${LEASE}LeaseKeepAlive`]: 'user',
  [`${LEASE}LeaseTimeToLive`]: 'user',
  [`${LEASE}LeaseLeases`]: 'user',
  // Probes and tools (etcdctl endpoint status, member list) work without a user, as in etcd 3.4.
  [`${MAINTENANCE}Status`]: 'public',
  [`${CLUSTER}MemberList`]: 'public',
  [`${MAINTENANCE}Alarm`]: 'user',
  [`${MAINTENANCE}Defragment`]: 'root',
  [`${MAINTENANCE}Hash`]: 'root',
  [`${MAINTENANCE}HashKV`]: 'root',
  [`${MAINTENANCE}Snapshot`]: 'root',
  [`${MAINTENANCE}MoveLeader`]: 'root',
  // Membership changes: root (etcd 3.4 does not check them; a stricter rule than etcd's).
  [`${CLUSTER}MemberAdd`]: 'root',
  [`${CLUSTER}MemberRemove`]: 'root',
  [`${CLUSTER}MemberUpdate`]: 'root',
  [`${CLUSTER}MemberPromote`]: 'root',
  '/v3lockpb.Lock/Lock': 'keys',
  '/v3lockpb.Lock/Unlock': 'keys',
  '/v3electionpb.Election/Campaign': 'keys',
  '/v3electionpb.Election/Proclaim': 'keys',
  '/v3electionpb.Election/Leader': 'keys',
  '/v3electionpb.Election/Observe': 'keys',
  '/v3electionpb.Election/Resign': 'keys',
  [`${AUTH}Authenticate`]: 'public',
  [`${AUTH}UserGet`]: 'self',
  [`${AUTH}RoleGet`]: 'self',
});

export function accessOf(path: string): MethodAccess {
  return METHOD_ACCESS[path] ?? 'root';
}

/**
 * The auth token of a call: etcd's `token` metadata, else `authorization` (the grpc-gateway's
 * name) unless that header carries the member's own client token.
 */
export function tokenOf(headers: IncomingHttpHeaders, clientTokenConfigured: boolean): string | undefined {
  const token = headers['token'];
  if (typeof token === 'string') return token;
  const auth = headers['authorization'];
  if (!clientTokenConfigured && typeof auth === 'string') return auth;
  return undefined;
}

/** Resolves the caller and checks the method-level rule; throws etcd's auth errors. */
export function authorize(ctx: GrpcContext, call: Call, headers: IncomingHttpHeaders, access: MethodAccess, clientTokenConfigured: boolean): void {
  if (access === 'public') return;
  const auth = ctx.node.auth;
  // Read before the checks: a write is refused at apply if auth changed after this point.
  call.authRevision = auth.revision;
  call.identity = auth.identify(tokenOf(headers, clientTokenConfigured));
  if (access === 'root') auth.requireRoot(call.identity);
  else auth.requireUser(call.identity);
}

/** Throws unless the caller may `access` the key (empty `rangeEnd`) or range, in etcd's encoding. */
export function requireKeys(ctx: GrpcContext, call: Call, access: Access, key: Uint8Array, rangeEnd?: Uint8Array): void {
  ctx.node.auth.requireKeys(call.identity, access, key, rangeEnd);
}

/** Throws unless the caller has every one of `accesses` on the text key, or on the keys under `prefix`. */
export function requireText(ctx: GrpcContext, call: Call, accesses: readonly Access[], key: string, asPrefix = false): void {
  const bytes = keyBytes(key);
  const end = asPrefix ? (prefixEnd(bytes) ?? Uint8Array.of(0)) : undefined;
  for (const a of accesses) requireKeys(ctx, call, a, bytes, end);
}

/**
 * Throws unless the caller may write every key attached to lease `leaseId` (etcd's
 * checkLeasePuts: revoking a lease deletes its keys, and a put attaches one more to it). An
 * unknown lease passes here; the call itself answers it.
 */
export async function requireLeaseKeys(ctx: GrpcContext, call: Call, leaseId: number): Promise<void> {
  if (leaseId <= 0 || call.identity.kind === 'open' || !ctx.node.auth.enabled || isRoot(ctx, call.identity)) return;
  let keys: readonly string[];
  try {
    keys = (await ctx.node.leaseTimeToLive(leaseId, { keys: true, signal: call.signal })).keys;
  } catch (err) {
    if (err instanceof LeaseNotFoundError) return;
    throw err;
  }
  for (const k of keys) requireKeys(ctx, call, 'write', keyBytes(k));
}

/** The leases the puts of a txn attach keys to, nested txns included. */
export function txnLeases(t: TxnReq, out: Set<number> = new Set()): Set<number> {
  for (const o of [...t.success, ...t.failure]) {
    if (o.kind === 'put' && o.req.lease > 0) out.add(o.req.lease);
    else if (o.kind === 'txn') txnLeases(o.req, out);
  }
  return out;
}

/** Whether the caller is root (or auth is off). */
export function isRoot(ctx: GrpcContext, who: AuthIdentity): boolean {
  try {
    ctx.node.auth.requireRoot(who);
    return true;
  } catch {
    return false;
  }
}

/** Throws unless the caller may run every op (a put needs WRITE, and READ too with prev_kv). */
export function requireOps(ctx: GrpcContext, call: Call, ops: readonly RequestOp[]): void {
  for (const o of ops) {
    switch (o.kind) {
      case 'range':
        requireKeys(ctx, call, 'read', o.req.key, o.req.rangeEnd);
        break;
      case 'put':
        requireKeys(ctx, call, 'write', o.req.key);
        if (o.req.prevKv) requireKeys(ctx, call, 'read', o.req.key);
        break;
      case 'delete':
        requireKeys(ctx, call, 'write', o.req.key, o.req.rangeEnd);
        if (o.req.prevKv) requireKeys(ctx, call, 'read', o.req.key, o.req.rangeEnd);
        break;
      case 'txn':
        // Nested txns are checked as deep as they go (etcd 3.4 skips them).
        requireTxn(ctx, call, o.req);
        break;
    }
  }
}

/** A txn needs READ on every compare and the rights of every op of both branches, whichever runs. */
export function requireTxn(ctx: GrpcContext, call: Call, t: TxnReq): void {
  for (const c of t.compare) requireKeys(ctx, call, 'read', c.key, c.rangeEnd);
  requireOps(ctx, call, t.success);
  requireOps(ctx, call, t.failure);
}
