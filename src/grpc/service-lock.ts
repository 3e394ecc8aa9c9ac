/**
 * v3lockpb.Lock: etcd's lock service — Lock(name, lease) waits until the caller owns the lock and
 * returns its key; Unlock(key) deletes it. Same key layout and algorithm as etcd's (clientv3
 * concurrency Mutex, which `etcdctl lock` runs client-side), so both interoperate: the key is
 * `name/<lease id in hex>` attached to the lease; the owner is the key of the prefix with the
 * lowest create revision; a waiter watches the next older key until it is deleted. A call that
 * ends (deadline, cancel) while waiting deletes its key.
 */
import { cmp, op } from '../node/txn-builder.ts';
import type { KeyValue, RangeResult, TxnResult, WatchEvent } from '../node/types.ts';
import { requireKeys, requireText } from './access.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { keyBytes, keyText } from './keys.ts';
import { writeHeader } from './messages-kv.ts';
import { Etcd, GrpcError, Status } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_LEN, WIRE_VARINT } from './wire.ts';

const EMPTY: Uint8Array = new Uint8Array(0);

function decodeLock(bytes: Uint8Array): { name: Uint8Array; lease: number } {
  const m: { name: Uint8Array; lease: number } = { name: EMPTY, lease: 0 };
  const r = new ProtoReader(bytes);
  readFields(r, (f, w) => {
    if (f === 1) {
      expectWire(w, WIRE_LEN, 'name');
      m.name = r.bytes();
      return true;
    }
    if (f === 2) {
      expectWire(w, WIRE_VARINT, 'lease');
      m.lease = r.int53('lease');
      return true;
    }
    return false;
  });
  return m;
}

/** Waits until no key of `prefix` created at or before `maxCreate` (ours) remains. */
export async function waitDeletes(ctx: GrpcContext, prefix: string, maxCreate: number, call: Call): Promise<void> {
  for (;;) {
    if (call.signal.aborted) throw call.signal.reason instanceof Error ? call.signal.reason : new GrpcError(Status.CANCELLED, 'context canceled');
    const older = await ctx.node.range({ prefix }, { sort: { by: 'createRevision', order: 'desc' }, limit: 1, maxCreateRevision: maxCreate, ...callOptions(call) });
    const last = older.kvs[0];
    if (last === undefined) return;
    const watch = ctx.node.watch(last.key, { startRevision: older.revision + 1, noPut: true, signal: call.signal });
    try {
      for await (const ev of watch as AsyncIterable<WatchEvent<unknown>>) if (ev.type === 'delete') break;
    } finally {
      watch.close();
    }
  }
}

async function lock(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decodeLock(request);
  if (m.name.length === 0) throw new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: lock name is not provided');
  if (m.lease <= 0) throw Etcd.leaseNotFound();
  const prefix = `${keyText(m.name, 'name')}/`;
  requireText(ctx, call, ['read', 'write'], prefix, true);
  const myKey = `${prefix}${m.lease.toString(16)}`;
  const owner = op.range({ prefix }, { sort: { by: 'createRevision', order: 'asc' }, limit: 1 });
  const r: TxnResult<unknown> = await ctx.node
    .txn()
    .if(cmp.createRevision(myKey, '==', 0))
    .then(op.put(myKey, EMPTY, { lease: m.lease }), owner)
    .else(op.get(myKey), owner)
    .commit(callOptions(call));
  const mine = r.succeeded ? r.revision : ((r.results[0] as RangeResult<unknown>).kvs[0] as KeyValue<unknown>).createRevision;
  const first = (r.results[1] as RangeResult<unknown>).kvs[0];
  try {
    if (first === undefined || first.createRevision !== mine) await waitDeletes(ctx, prefix, mine - 1, call);
  } catch (err) {
    // Give the place up: a caller that stopped waiting must not become the owner later.
    await ctx.node.delete(myKey).catch(() => undefined);
    throw err;
  }
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  w.bytes(2, keyBytes(myKey));
  return w.finish();
}

async function unlock(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  let key: Uint8Array = EMPTY;
  const r = new ProtoReader(request);
  readFields(r, (f, w) => {
    if (f !== 1) return false;
    expectWire(w, WIRE_LEN, 'key');
    key = r.bytes();
    return true;
  });
  if (key.length === 0) throw Etcd.emptyKey();
  requireKeys(ctx, call, 'write', key);
  const d = await ctx.node.delete(keyText(key, 'key'), callOptions(call));
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx, d.revision));
  return w.finish();
}

export const lockMethods: Readonly<Record<string, Method>> = {
  '/v3lockpb.Lock/Lock': { kind: 'unary', fn: lock },
  '/v3lockpb.Lock/Unlock': { kind: 'unary', fn: unlock },
};
