/**
 * etcdserverpb.Maintenance: Status, Alarm (no alarms are ever raised: Get lists none),
 * Defragment (nothing to defragment: the store is in memory; answered at once), MoveLeader.
 * Status reports etcd's fields; `version` is the etcd API version served (3.4.0), `dbSize` 0
 * (the store has no database file). Snapshot streams the applied store as the bbolt database
 * etcd 3.4 keeps (bolt/etcd-db.ts) followed by etcd's sha256 trailer, so `etcdctl snapshot
 * status` and `etcdctl snapshot restore` read it. Hash and HashKV
 * hash the member's own history (see hashAt).
 */
import { createHash } from 'node:crypto';
import { memberIdOf } from '../gateway/encode.ts';
import { planEtcdDb } from './bolt/etcd-db.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { writeHeader } from './messages-kv.ts';
import { fromEtcdRev, toEtcdRev } from './revision.ts';
import { Etcd, GrpcError, Status } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_VARINT } from './wire.ts';

import { ETCD_API_VERSION } from '../node/versions.ts';

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

/**
 * HashKV: the member's own hash of its history at a revision (etcd's `revision` field 1; 0 = now),
 * with its compact revision (store/hash-kv.ts). Hash: the same at the current revision (etcd
 * hashes its whole database file there; quorumkv has none, and the history is what members share).
 */
async function hashAt(ctx: GrpcContext, etcdRevision: number, call: Call): Promise<{ hash: number; compactRevision: number }> {
  const r = await ctx.node.hashKv(etcdRevision <= 0 ? undefined : fromEtcdRev(etcdRevision), callOptions(call));
  return { hash: r.hash, compactRevision: r.compactRevision };
}

async function hash(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  readFields(new ProtoReader(request), () => false);
  const r = await hashAt(ctx, 0, call);
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  w.int(2, r.hash);
  return w.finish();
}

async function hashKV(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  let revision = 0;
  const reader = new ProtoReader(request);
  readFields(reader, (f, w) => {
    if (f !== 1) return false;
    expectWire(w, WIRE_VARINT, 'revision');
    revision = reader.int53('revision');
    return true;
  });
  const r = await hashAt(ctx, revision, call);
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  w.int(2, r.hash).int(3, toEtcdRev(r.compactRevision));
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

/** Bytes of etcd's snapshot trailer: the sha256 of the database before it. */
const TRAILER_BYTES = 32;

/**
 * `pieces` regrouped into messages of exactly `chunkBytes` (the last one shorter): pages are 4
 * KiB, a message carries `snapshotChunkBytes`. Holds at most one message plus
 * one piece.
 */
async function* rechunk(pieces: AsyncIterable<Uint8Array>, chunkBytes: number): AsyncIterableIterator<Uint8Array> {
  let pending = new Uint8Array(chunkBytes);
  let filled = 0;
  for await (const piece of pieces) {
    for (let from = 0; from < piece.length; ) {
      const n = Math.min(piece.length - from, chunkBytes - filled);
      pending.set(piece.subarray(from, from + n), filled);
      filled += n;
      from += n;
      if (filled === chunkBytes) {
        yield pending;
        pending = new Uint8Array(chunkBytes);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield pending.subarray(0, filled);
}

/** The database's pages, then etcd's trailer: the sha256 of everything before it. */
async function* withEtcdTrailer(pages: AsyncIterable<Uint8Array>): AsyncIterableIterator<Uint8Array> {
  const sha = createHash('sha256');
  for await (const page of pages) {
    sha.update(page);
    yield page;
  }
  yield sha.digest();
}

/**
 * The applied store as etcd's bolt database (bolt/etcd-db.ts), planned in a first pass and then
 * streamed page by page under backpressure: the stream holds one message, not the file.
 */
async function snapshot(ctx: GrpcContext, call: Call): Promise<void> {
  await call.only();
  if (ctx.open.snapshots >= ctx.limits.maxSnapshotStreams) {
    throw new GrpcError(Status.RESOURCE_EXHAUSTED, `etcdserver: too many snapshot streams (limit ${ctx.limits.maxSnapshotStreams}); retry later`);
  }
  ctx.open.snapshots++;
  try {
    const options = callOptions(call);
    const { index, store } = await ctx.node.storeSnapshot(options);
    const db = await planEtcdDb(store.view, index, options.signal);
    const chunk = ctx.limits.snapshotChunkBytes;
    let remaining = db.totalBytes + TRAILER_BYTES;
    for await (const part of rechunk(withEtcdTrailer(db.pages()), chunk)) {
      remaining -= part.length;
      const w = new ProtoWriter();
      writeHeader(w, headerOf(ctx));
      w.int(2, remaining).bytes(3, part);
      if (!call.send(w.finish())) return;
      // One chunk in flight beyond the peer's window: a slow reader holds the stream, not copies of it.
      if (call.unsentBytes > chunk) await call.drained();
    }
  } finally {
    ctx.open.snapshots--;
  }
}

export const maintenanceMethods: Readonly<Record<string, Method>> = {
  '/etcdserverpb.Maintenance/Status': { kind: 'unary', fn: status },
  '/etcdserverpb.Maintenance/Alarm': { kind: 'unary', fn: alarm },
  '/etcdserverpb.Maintenance/Defragment': { kind: 'unary', fn: defragment },
  '/etcdserverpb.Maintenance/MoveLeader': { kind: 'unary', fn: moveLeader },
  '/etcdserverpb.Maintenance/Hash': { kind: 'unary', fn: hash },
  '/etcdserverpb.Maintenance/HashKV': { kind: 'unary', fn: hashKV },
  '/etcdserverpb.Maintenance/Snapshot': { kind: 'stream', fn: snapshot },
};
