/**
 * etcdserverpb.Maintenance: Status, Alarm (no alarms are ever raised: Get lists none),
 * Defragment (nothing to defragment: the store is in memory; answered at once), MoveLeader.
 * Status reports etcd's fields; `version` is the etcd API version served (3.4.0), `dbSize` 0
 * (the store has no database file). Snapshot, Hash and HashKV are not served yet.
 */
import { memberIdOf } from '../gateway/encode.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { writeHeader } from './messages-kv.ts';
import { Etcd } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_VARINT } from './wire.ts';

/** The etcd API version this endpoint speaks (clients gate features on it). */
export const ETCD_API_VERSION = '3.4.0';

async function status(ctx: GrpcContext): Promise<Uint8Array> {
  const s = ctx.node.status();
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  w.string(2, ETCD_API_VERSION);
  if (s.leader !== '') w.int(4, memberIdOf(s.leader));
  w.int(5, s.commitIndex).int(6, s.term).int(7, s.appliedIndex);
  w.bool(10, s.members.some((m) => m.id === s.id && m.learner));
  return w.finish();
}

async function alarm(ctx: GrpcContext, request: Uint8Array): Promise<Uint8Array> {
  // Validate the request (action, memberID, alarm); there is nothing to activate or clear.
  const r = new ProtoReader(request);
  readFields(r, (f, w) => {
    if (f < 1 || f > 3) return false;
    expectWire(w, WIRE_VARINT, 'alarm field');
    r.uint64();
    return true;
  });
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  return w.finish();
}

async function defragment(ctx: GrpcContext): Promise<Uint8Array> {
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  return w.finish();
}

async function moveLeader(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  let target = 0n;
  const r = new ProtoReader(request);
  readFields(r, (f, w) => {
    if (f !== 1) return false;
    expectWire(w, WIRE_VARINT, 'targetID');
    target = r.uint64();
    return true;
  });
  const s = ctx.node.status();
  if (s.role !== 'leader') throw Etcd.notLeader();
  const member = s.members.find((m) => memberIdOf(m.id) === target);
  if (member === undefined || member.learner) throw Etcd.badLeaderTransferee();
  await ctx.node.cluster.transferLeadership(member.id, callOptions(call));
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  return w.finish();
}

export const maintenanceMethods: Readonly<Record<string, Method>> = {
  '/etcdserverpb.Maintenance/Status': { kind: 'unary', fn: status },
  '/etcdserverpb.Maintenance/Alarm': { kind: 'unary', fn: alarm },
  '/etcdserverpb.Maintenance/Defragment': { kind: 'unary', fn: defragment },
  '/etcdserverpb.Maintenance/MoveLeader': { kind: 'unary', fn: moveLeader },
};
