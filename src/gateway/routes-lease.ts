/**
 * `/v3/lease/*` (and etcd's older `/v3/kv/lease/*` aliases): grant, revoke, keepalive, timetolive,
 * leases. TTLs are whole seconds on the wire, as etcd's; the node works in ms. The node raises a
 * TTL below its floor (1.5 × election timeout), and the granted TTL is what is reported back.
 */
import { InvalidArgumentError, LeaseNotFoundError } from '../errors.ts';
import type { UnaryHandler } from './context.ts';
import { b64, header } from './encode.ts';
import type { JsonObject } from './types.ts';
import { optBool, optInt } from './validate.ts';
import type { Body } from './validate.ts';

/** Longest TTL accepted, in seconds (etcd's MaxLeaseTTL). */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;

function leaseId(b: Body): number {
  const id = optInt(b, 'ID', 1);
  if (id === undefined) throw new InvalidArgumentError('gateway: ID is required');
  return id;
}

function seconds(ms: number): string {
  return String(Math.ceil(ms / 1000));
}

const grant: UnaryHandler = async (ctx) => {
  const ttl = optInt(ctx.body, 'TTL', 1);
  if (ttl === undefined) throw new InvalidArgumentError('gateway: TTL is required (seconds, >= 1)');
  if (ttl > MAX_LEASE_TTL_SECONDS) throw new InvalidArgumentError(`gateway: TTL over ${MAX_LEASE_TTL_SECONDS} seconds`);
  const id = optInt(ctx.body, 'ID');
  const lease = await ctx.node.grantLease(ttl * 1000, { ...(id ? { id } : {}), ...ctx.call });
  return { header: header(ctx.node.status()), ID: String(lease.id), TTL: seconds(lease.ttlMs) };
};

const revoke: UnaryHandler = async (ctx) => {
  await ctx.node.revokeLease(leaseId(ctx.body), ctx.call);
  return { header: header(ctx.node.status()) };
};

const keepAlive: UnaryHandler = async (ctx) => {
  const id = leaseId(ctx.body);
  const remainingMs = await ctx.node.keepAliveLease(id, ctx.call);
  return { result: { header: header(ctx.node.status()), ID: String(id), TTL: seconds(remainingMs) } };
};

const timeToLive: UnaryHandler = async (ctx) => {
  const id = leaseId(ctx.body);
  const withKeys = optBool(ctx.body, 'keys');
  try {
    const t = await ctx.node.leaseTimeToLive(id, { keys: withKeys, ...ctx.call });
    const out: JsonObject = { header: header(ctx.node.status()), ID: String(id), TTL: seconds(t.ttlMs), grantedTTL: seconds(t.grantedTtlMs) };
    if (withKeys && t.keys.length > 0) out['keys'] = t.keys.map((k: string) => b64(k));
    return out;
  } catch (err) {
    // etcd answers an unknown lease with TTL -1 rather than an error.
    if (err instanceof LeaseNotFoundError) return { header: header(ctx.node.status()), ID: String(id), TTL: '-1' };
    throw err;
  }
};

const leases: UnaryHandler = async (ctx) => {
  const all = await ctx.node.leases(ctx.call);
  const out: JsonObject = { header: header(ctx.node.status()) };
  if (all.length > 0) out['leases'] = all.map((l: { readonly id: number }) => ({ ID: String(l.id) }));
  return out;
};

export const leaseRoutes: Readonly<Record<string, UnaryHandler>> = {
  '/v3/lease/grant': grant,
  '/v3/lease/revoke': revoke,
  '/v3/kv/lease/revoke': revoke,
  '/v3/lease/keepalive': keepAlive,
  '/v3/lease/timetolive': timeToLive,
  '/v3/kv/lease/timetolive': timeToLive,
  '/v3/lease/leases': leases,
  '/v3/kv/lease/leases': leases,
};
