/**
 * etcdserverpb.Lease: LeaseGrant, LeaseRevoke, LeaseKeepAlive (bidi stream), LeaseTimeToLive,
 * LeaseLeases. TTLs are whole seconds on the wire (the node works in ms and raises TTLs below
 * its floor; the granted TTL is what is reported). Lease ids are int64 on the wire and safe
 * integers in the node: an id outside ±2^53 is refused, never rounded.
 */
import { LeaseNotFoundError } from '../errors.ts';
import { requireLeaseKeys } from './access.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { keyBytes } from './keys.ts';
import { writeHeader } from './messages-kv.ts';
import { Etcd, GrpcError, Status } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, safeInt, WIRE_VARINT } from './wire.ts';

/** etcd's MaxLeaseTTL, in seconds. */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;
/** Bytes of keepalive responses left unsent before the stream stops reading requests. */
const KEEPALIVE_UNSENT_BYTES = 64 * 1024;

/** Decodes a message of int64/bool fields by number; every other field is skipped. */
function decodeInts(request: Uint8Array, names: Readonly<Record<number, string>>): Map<number, number> {
  const out = new Map<number, number>();
  const r = new ProtoReader(request);
  readFields(r, (f, w) => {
    const name = names[f];
    if (name === undefined) return false;
    expectWire(w, WIRE_VARINT, name);
    out.set(f, safeInt(r.int64(), name));
    return true;
  });
  return out;
}

function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

function leaseIdOf(v: number | undefined): number {
  const id = v ?? 0;
  if (id <= 0) throw Etcd.leaseNotFound();
  return id;
}

async function grant(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decodeInts(request, { 1: 'TTL', 2: 'ID' });
  const ttl = m.get(1) ?? 0;
  const id = m.get(2) ?? 0;
  if (ttl > MAX_LEASE_TTL_SECONDS) throw Etcd.leaseTtlTooLarge();
  if (id < 0) throw new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: lease ID must not be negative');
  const lease = await ctx.node.grantLease(Math.max(ttl, 1) * 1000, { ...(id > 0 ? { id } : {}), ...callOptions(call) });
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  w.int(2, lease.id).int(3, seconds(lease.ttlMs));
  return w.finish();
}

async function revoke(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const id = leaseIdOf(decodeInts(request, { 1: 'ID' }).get(1));
  await requireLeaseKeys(ctx, call, id);
  await ctx.node.revokeLease(id, callOptions(call));
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  return w.finish();
}

async function keepAlive(ctx: GrpcContext, call: Call): Promise<void> {
  for (;;) {
    const request = await call.next();
    if (request === undefined || call.finished) return;
    const id = decodeInts(request, { 1: 'ID' }).get(1) ?? 0;
    let ttl = 0;
    try {
      if (id > 0) ttl = seconds(await ctx.node.keepAliveLease(id, callOptions(call)));
    } catch (err) {
      // etcd answers a keepalive of an unknown (or expired) lease with TTL 0, not an error.
      if (!(err instanceof LeaseNotFoundError) && (err as { code?: string }).code !== 'LEASE_EXPIRED') throw err;
    }
    const w = new ProtoWriter();
    writeHeader(w, headerOf(ctx));
    w.int(2, id).int(3, ttl);
    if (!call.send(w.finish())) return;
    if (call.unsentBytes > KEEPALIVE_UNSENT_BYTES) await call.drained();
  }
}

async function timeToLive(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decodeInts(request, { 1: 'ID', 2: 'keys' });
  const id = m.get(1) ?? 0;
  const withKeys = (m.get(2) ?? 0) !== 0;
  const w = new ProtoWriter();
  try {
    if (id <= 0) throw new LeaseNotFoundError(id);
    const t = await ctx.node.leaseTimeToLive(id, { keys: withKeys, ...callOptions(call) });
    writeHeader(w, headerOf(ctx));
    w.int(2, id).int(3, seconds(t.ttlMs)).int(4, seconds(t.grantedTtlMs));
    if (withKeys) for (const k of t.keys) w.bytesAlways(5, keyBytes(k));
  } catch (err) {
    if (!(err instanceof LeaseNotFoundError)) throw err;
    // etcd answers an unknown lease with TTL -1 rather than an error.
    writeHeader(w, headerOf(ctx));
    w.int(2, id).int(3, -1);
  }
  return w.finish();
}

async function leases(ctx: GrpcContext, _request: Uint8Array, call: Call): Promise<Uint8Array> {
  const all = await ctx.node.leases(callOptions(call));
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  for (const l of all) w.message(2, (s) => s.int(1, l.id));
  return w.finish();
}

export const leaseMethods: Readonly<Record<string, Method>> = {
  '/etcdserverpb.Lease/LeaseGrant': { kind: 'unary', fn: grant },
  '/etcdserverpb.Lease/LeaseRevoke': { kind: 'unary', fn: revoke },
  '/etcdserverpb.Lease/LeaseKeepAlive': { kind: 'stream', fn: keepAlive },
  '/etcdserverpb.Lease/LeaseTimeToLive': { kind: 'unary', fn: timeToLive },
  '/etcdserverpb.Lease/LeaseLeases': { kind: 'unary', fn: leases },
};
