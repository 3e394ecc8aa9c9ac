/**
 * etcdserverpb.Cluster: MemberList, MemberRemove, MemberPromote. A member's etcd ID is the
 * FNV-1a 64 hash of its name (as the JSON gateway's); only this member's client URL is known to
 * it, so other members list none yet. MemberAdd and MemberUpdate are UNIMPLEMENTED: quorumkv
 * members are named and etcd's MemberAdd carries no name (use `quorumkv member add`).
 */
import { memberIdOf } from '../gateway/encode.ts';
import type { Member } from '../node/types.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { writeHeader } from './messages-kv.ts';
import { Etcd } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_VARINT } from './wire.ts';

function writeMember(w: ProtoWriter, field: number, m: Member, ctx: GrpcContext): void {
  const self = ctx.node.status().id;
  w.message(field, (o) => {
    o.int(1, memberIdOf(m.id)).string(2, m.id);
    if (m.url !== '') o.stringAlways(3, m.url);
    if (m.id === self && ctx.clientUrl() !== '') o.stringAlways(4, ctx.clientUrl());
    o.bool(5, m.learner);
  });
}

async function membersBody(ctx: GrpcContext, call: Call): Promise<Uint8Array> {
  const members = await ctx.node.cluster.members(callOptions(call));
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  for (const m of members) writeMember(w, 2, m, ctx);
  return w.finish();
}

/** The uint64 `ID` (field 1) of MemberRemove/MemberPromote. */
function memberIdField(request: Uint8Array): bigint {
  let id = 0n;
  const r = new ProtoReader(request);
  readFields(r, (f, w) => {
    if (f !== 1) return false;
    expectWire(w, WIRE_VARINT, 'ID');
    id = r.uint64();
    return true;
  });
  return id;
}

async function resolve(ctx: GrpcContext, id: bigint, call: Call): Promise<Member> {
  const members = await ctx.node.cluster.members(callOptions(call));
  const found = members.find((m) => memberIdOf(m.id) === id);
  if (found === undefined) throw Etcd.memberNotFound();
  return found;
}

async function list(ctx: GrpcContext, _request: Uint8Array, call: Call): Promise<Uint8Array> {
  return membersBody(ctx, call);
}

async function remove(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = await resolve(ctx, memberIdField(request), call);
  await ctx.node.cluster.remove(m.id, callOptions(call));
  return membersBody(ctx, call);
}

async function promote(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = await resolve(ctx, memberIdField(request), call);
  if (!m.learner) throw Etcd.memberNotLearner();
  await ctx.node.cluster.promote(m.id, callOptions(call));
  return membersBody(ctx, call);
}

export const clusterMethods: Readonly<Record<string, Method>> = {
  '/etcdserverpb.Cluster/MemberList': { kind: 'unary', fn: list },
  '/etcdserverpb.Cluster/MemberRemove': { kind: 'unary', fn: remove },
  '/etcdserverpb.Cluster/MemberPromote': { kind: 'unary', fn: promote },
};
