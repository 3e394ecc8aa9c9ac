/**
 * v3electionpb.Election: Campaign, Proclaim, Leader, Observe (stream), Resign — etcd's election
 * service with etcd's algorithm and key layout (clientv3 concurrency Election, which `etcdctl
 * elect` runs client-side), so both interoperate: a candidate's key is `name/<lease hex>` on its
 * lease, the leader is the key of the prefix with the lowest create revision, a candidate waits
 * until every older key is deleted. LeaderKey.rev is the key's create revision (etcd numbering).
 */
import { cmp, op } from '../node/txn-builder.ts';
import type { KeyValue, RangeResult, TxnResult, WatchEvent } from '../node/types.ts';
import { requireText } from './access.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { toWireKv } from './convert.ts';
import { keyBytes, keyText } from './keys.ts';
import { writeHeader, writeKv } from './messages-kv.ts';
import { fromEtcdCompareRev, toEtcdRev } from './revision.ts';
import { waitDeletes } from './service-lock.ts';
import { Etcd, GrpcError, Status } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_LEN, WIRE_VARINT } from './wire.ts';

const EMPTY: Uint8Array = new Uint8Array(0);

interface LeaderKey {
  name: Uint8Array;
  key: Uint8Array;
  rev: number;
  lease: number;
}

interface ElectionReq {
  name: Uint8Array;
  lease: number;
  value: Uint8Array;
  leader: LeaderKey | undefined;
}

function decodeLeaderKey(r: ProtoReader): LeaderKey {
  const k: LeaderKey = { name: EMPTY, key: EMPTY, rev: 0, lease: 0 };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: expectWire(w, WIRE_LEN, 'leader.name'); k.name = r.bytes(); return true;
      case 2: expectWire(w, WIRE_LEN, 'leader.key'); k.key = r.bytes(); return true;
      case 3: expectWire(w, WIRE_VARINT, 'leader.rev'); k.rev = r.int53('leader.rev'); return true;
      case 4: expectWire(w, WIRE_VARINT, 'leader.lease'); k.lease = r.int53('leader.lease'); return true;
      default: return false;
    }
  });
  return k;
}

/**
 * Every request of the service in one shape. Field numbers: Campaign {name 1, lease 2, value 3};
 * Leader/Observe {name 1}; Proclaim {leader 1, value 2}; Resign {leader 1}.
 */
function decode(bytes: Uint8Array, kind: 'campaign' | 'name' | 'proclaim' | 'resign'): ElectionReq {
  const m: ElectionReq = { name: EMPTY, lease: 0, value: EMPTY, leader: undefined };
  const r = new ProtoReader(bytes);
  readFields(r, (f, w) => {
    if (kind === 'campaign' || kind === 'name') {
      if (f === 1) { expectWire(w, WIRE_LEN, 'name'); m.name = r.bytes(); return true; }
      if (kind === 'campaign' && f === 2) { expectWire(w, WIRE_VARINT, 'lease'); m.lease = r.int53('lease'); return true; }
      if (kind === 'campaign' && f === 3) { expectWire(w, WIRE_LEN, 'value'); m.value = r.bytes(); return true; }
      return false;
    }
    if (f === 1) { expectWire(w, WIRE_LEN, 'leader'); m.leader = decodeLeaderKey(r.message()); return true; }
    if (kind === 'proclaim' && f === 2) { expectWire(w, WIRE_LEN, 'value'); m.value = r.bytes(); return true; }
    return false;
  });
  return m;
}

const notLeader = (): GrpcError => new GrpcError(Status.FAILED_PRECONDITION, 'election: not leader');
const noLeader = (): GrpcError => new GrpcError(Status.NOT_FOUND, 'election: no leader');

function prefixOf(name: Uint8Array): string {
  if (name.length === 0) throw new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: election name is not provided');
  return `${keyText(name, 'name')}/`;
}

function headerOnly(ctx: GrpcContext, revision?: number): Uint8Array {
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx, revision));
  return w.finish();
}

async function campaign(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decode(request, 'campaign');
  const prefix = prefixOf(m.name);
  if (m.lease <= 0) throw Etcd.leaseNotFound();
  requireText(ctx, call, ['read', 'write'], prefix, true);
  const key = `${prefix}${m.lease.toString(16)}`;
  const r: TxnResult<unknown> = await ctx.node
    .txn()
    .if(cmp.createRevision(key, '==', 0))
    .then(op.put(key, m.value, { lease: m.lease }))
    .else(op.get(key))
    .commit(callOptions(call));
  let rev = r.revision;
  if (!r.succeeded) {
    const kv = (r.results[0] as RangeResult<unknown>).kvs[0] as KeyValue<unknown>;
    rev = kv.createRevision;
    await ctx.node.put(key, m.value, { lease: m.lease, ...callOptions(call) });
  }
  try {
    await waitDeletes(ctx, prefix, rev - 1, call);
  } catch (err) {
    await ctx.node.delete(key).catch(() => undefined);
    throw err;
  }
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  w.message(2, (l) => l.bytes(1, m.name).bytes(2, keyBytes(key)).int(3, toEtcdRev(rev)).int(4, m.lease));
  return w.finish();
}

function leaderOf(m: ElectionReq): { key: string; rev: number; lease: number } {
  const l = m.leader;
  if (l === undefined || l.key.length === 0) throw new GrpcError(Status.INVALID_ARGUMENT, '"leader" field must be provided');
  return { key: keyText(l.key, 'leader.key'), rev: fromEtcdCompareRev(l.rev), lease: l.lease };
}

async function proclaim(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decode(request, 'proclaim');
  const l = leaderOf(m);
  requireText(ctx, call, ['read', 'write'], l.key);
  const r = await ctx.node
    .txn()
    .if(cmp.createRevision(l.key, '==', l.rev))
    .then(op.put(l.key, m.value, { ignoreLease: true }))
    .commit(callOptions(call));
  if (!r.succeeded) throw notLeader();
  return headerOnly(ctx, r.revision);
}

async function resign(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const l = leaderOf(decode(request, 'resign'));
  requireText(ctx, call, ['read', 'write'], l.key);
  const r = await ctx.node.txn().if(cmp.createRevision(l.key, '==', l.rev)).then(op.delete(l.key)).commit(callOptions(call));
  return headerOnly(ctx, r.revision);
}

async function currentLeader(ctx: GrpcContext, prefix: string, call: Call): Promise<RangeResult<unknown>> {
  return ctx.node.range({ prefix }, { sort: { by: 'createRevision', order: 'asc' }, limit: 1, ...callOptions(call) });
}

function leaderResponse(ctx: GrpcContext, kv: KeyValue<unknown>, revision: number): Uint8Array {
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx, revision));
  writeKv(w, 2, toWireKv(kv));
  return w.finish();
}

async function leader(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const prefix = prefixOf(decode(request, 'name').name);
  requireText(ctx, call, ['read'], prefix, true);
  const r = await currentLeader(ctx, prefix, call);
  const kv = r.kvs[0];
  if (kv === undefined) throw noLeader();
  return leaderResponse(ctx, kv, r.revision);
}

/** Streams the leader's key each time the leader or its value changes, until the call ends. */
async function observe(ctx: GrpcContext, call: Call): Promise<void> {
  const prefix = prefixOf(decode(await call.only(), 'name').name);
  requireText(ctx, call, ['read'], prefix, true);
  let last: { key: string; modRevision: number } | undefined;
  while (!call.finished) {
    const r = await currentLeader(ctx, prefix, call);
    const kv = r.kvs[0];
    // Watch the whole prefix from the read on: the leader's changes and a new leader's arrival.
    const watch = ctx.node.watch({ prefix }, { startRevision: r.revision + 1, signal: call.signal });
    try {
      if (kv !== undefined && (last === undefined || last.key !== kv.key || last.modRevision !== kv.modRevision)) {
        last = { key: kv.key, modRevision: kv.modRevision };
        if (!call.send(leaderResponse(ctx, kv, r.revision))) return;
        await call.drained();
      }
      for await (const ev of watch as AsyncIterable<WatchEvent<unknown>>) {
        // Re-read on anything that can change who leads or what it says.
        if (kv === undefined || ev.kv.key === kv.key) break;
      }
    } finally {
      watch.close();
    }
  }
}

export const electionMethods: Readonly<Record<string, Method>> = {
  '/v3electionpb.Election/Campaign': { kind: 'unary', fn: campaign },
  '/v3electionpb.Election/Proclaim': { kind: 'unary', fn: proclaim },
  '/v3electionpb.Election/Leader': { kind: 'unary', fn: leader },
  '/v3electionpb.Election/Observe': { kind: 'stream', fn: observe },
  '/v3electionpb.Election/Resign': { kind: 'unary', fn: resign },
};
