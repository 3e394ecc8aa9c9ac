/**
 * etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact over the node API, with etcd's
 * validation order and error texts, and revisions mapped at the boundary (revision.ts).
 */
import { cmp, op } from '../node/txn-builder.ts';
import type { Cmp, Op, OpRangeOptions } from '../node/txn-builder.ts';
import type { CompareOp, DeleteResult, KeyValue, PutResult, RangeCallOptions, RangeResult, SortTarget, TxnResult } from '../node/types.ts';
import { requireKeys, requireLeaseKeys, requireOps, requireTxn, txnLeases } from './access.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { toWireKv } from './convert.ts';
import { keyText, rangeOfKeys } from './keys.ts';
import { decodeCompact, decodeDelete, decodePut, decodeRange, decodeTxn, writeDeleteBody, writePutBody, writeRangeBody, writeTxnBody } from './messages-kv.ts';
import type { CompareReq, DeleteReq, PutReq, RangeReq, RequestOp, ResponseOp, TxnReq } from './messages-kv.ts';
import { fromEtcdBound, fromEtcdCompareRev, fromEtcdRev, readsEmptyStore } from './revision.ts';
import { Etcd, GrpcError, Status } from './status.ts';
import { ProtoReader, ProtoWriter } from './wire.ts';

const SORT_TARGETS: readonly SortTarget[] = ['key', 'version', 'createRevision', 'modRevision', 'value'];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function rangeOptions(m: RangeReq): OpRangeOptions {
  const o: Mutable<OpRangeOptions> = {};
  if (m.limit < 0) throw new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: limit must not be negative');
  if (m.revision < 0) throw new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: revision must not be negative');
  if (m.limit > 0) o.limit = m.limit;
  if (m.revision > 1) o.revision = fromEtcdRev(m.revision);
  // etcd: no order with a non-key target still sorts ascending by that target.
  if (m.sortOrder !== 0 || m.sortTarget !== 0) o.sort = { by: SORT_TARGETS[m.sortTarget] as SortTarget, order: m.sortOrder === 2 ? 'desc' : 'asc' };
  if (m.keysOnly) o.keysOnly = true;
  if (m.countOnly) o.countOnly = true;
  if (m.minModRevision > 0) o.minModRevision = fromEtcdBound(m.minModRevision);
  if (m.maxModRevision > 0) o.maxModRevision = fromEtcdBound(m.maxModRevision);
  if (m.minCreateRevision > 0) o.minCreateRevision = fromEtcdBound(m.minCreateRevision);
  if (m.maxCreateRevision > 0) o.maxCreateRevision = fromEtcdBound(m.maxCreateRevision);
  return o;
}

function rangeRes(r: RangeResult<unknown>, keysOnly: boolean): { kvs: ReturnType<typeof toWireKv>[]; more: boolean; count: number } {
  return { kvs: r.kvs.map((kv: KeyValue<unknown>) => toWireKv(kv, keysOnly)), more: r.more, count: r.count };
}

async function range(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decodeRange(new ProtoReader(request));
  const r = rangeOfKeys(m.key, m.rangeEnd);
  const opts = rangeOptions(m);
  // After validation, as etcd: a malformed request gets its own error before any auth check.
  requireKeys(ctx, call, 'read', m.key, m.rangeEnd);
  const consistency = m.serializable ? 'serializable' : 'linearizable';
  const w = new ProtoWriter();
  if (readsEmptyStore(m.revision)) {
    // etcd revision 1 is the empty store: nothing to read, unless history below it was compacted.
    const st = ctx.node.status();
    if (st.compactRevision > 0) throw Etcd.compacted();
    await ctx.node.range(r, { consistency, countOnly: true, ...callOptions(call) });
    writeRangeBody(w, headerOf(ctx), { kvs: [], more: false, count: 0 });
    return w.finish();
  }
  const res = await ctx.node.range(r, { ...(opts as RangeCallOptions), consistency, ...callOptions(call) });
  writeRangeBody(w, headerOf(ctx, res.revision), rangeRes(res, m.keysOnly));
  return w.finish();
}

interface PutArgs {
  readonly key: string;
  readonly value: Uint8Array;
  readonly options: { lease?: number; prevKv?: boolean; ignoreValue?: boolean; ignoreLease?: boolean };
}

function putArgs(m: PutReq): PutArgs {
  if (m.key.length === 0) throw Etcd.emptyKey();
  if (m.ignoreValue && m.value.length > 0) throw Etcd.valueProvided();
  if (m.ignoreLease && m.lease !== 0) throw Etcd.leaseProvided();
  if (m.lease < 0) throw Etcd.leaseNotFound();
  const options: PutArgs['options'] = {};
  if (m.lease !== 0) options.lease = m.lease;
  if (m.prevKv) options.prevKv = true;
  if (m.ignoreValue) options.ignoreValue = true;
  if (m.ignoreLease) options.ignoreLease = true;
  return { key: keyText(m.key, 'key'), value: m.value, options };
}

async function put(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decodePut(new ProtoReader(request));
  const a = putArgs(m);
  requireOps(ctx, call, [{ kind: 'put', req: m }]);
  await requireLeaseKeys(ctx, call, m.lease);
  const r = await ctx.node.put(a.key, a.value, { ...a.options, ...callOptions(call) });
  const w = new ProtoWriter();
  writePutBody(w, headerOf(ctx, r.revision), r.prevKv === undefined ? undefined : toWireKv(r.prevKv));
  return w.finish();
}

async function deleteRange(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decodeDelete(new ProtoReader(request));
  const keys = rangeOfKeys(m.key, m.rangeEnd);
  requireOps(ctx, call, [{ kind: 'delete', req: m }]);
  const r = await ctx.node.delete(keys, { prevKv: m.prevKv, ...callOptions(call) });
  const w = new ProtoWriter();
  writeDeleteBody(w, headerOf(ctx, r.revision), r.deleted, (r.prevKvs ?? []).map((kv: KeyValue<unknown>) => toWireKv(kv)));
  return w.finish();
}

// ------------------------------------------------------------------ txn

const CMP_OPS: readonly CompareOp[] = ['==', '>', '<', '!='];

function compareOf(c: CompareReq): Cmp {
  const r = rangeOfKeys(c.key, c.rangeEnd);
  const o = CMP_OPS[c.result] as CompareOp;
  switch (c.target) {
    case 0:
      return cmp.version(r, o, c.intValue);
    case 1:
      return cmp.createRevision(r, o, fromEtcdCompareRev(c.intValue));
    case 2:
      return cmp.modRevision(r, o, fromEtcdCompareRev(c.intValue));
    case 3:
      return cmp.value(r, o, c.bytesValue);
    default:
      return cmp.lease(r, o, c.intValue);
  }
}

/** What each op of a branch was, to shape its result. */
type Shape = { readonly kind: 'range'; readonly keysOnly: boolean } | { readonly kind: 'put' } | { readonly kind: 'delete' } | { readonly kind: 'txn'; readonly success: Shape[]; readonly failure: Shape[] };

function deleteOp(m: DeleteReq): Op {
  return op.delete(rangeOfKeys(m.key, m.rangeEnd), { prevKv: m.prevKv });
}

function requestOp(o: RequestOp): { op: Op; shape: Shape } {
  switch (o.kind) {
    case 'range':
      return { op: op.range(rangeOfKeys(o.req.key, o.req.rangeEnd), rangeOptions(o.req)), shape: { kind: 'range', keysOnly: o.req.keysOnly } };
    case 'put': {
      const a = putArgs(o.req);
      return { op: op.put(a.key, a.value, a.options), shape: { kind: 'put' } };
    }
    case 'delete':
      return { op: deleteOp(o.req), shape: { kind: 'delete' } };
    case 'txn': {
      const t = buildTxn(o.req);
      return { op: op.txn({ if: t.compares, then: t.success, else: t.failure }), shape: { kind: 'txn', success: t.successShapes, failure: t.failureShapes } };
    }
  }
}

interface BuiltTxn {
  readonly compares: Cmp[];
  readonly success: Op[];
  readonly failure: Op[];
  readonly successShapes: Shape[];
  readonly failureShapes: Shape[];
}

function buildTxn(t: TxnReq): BuiltTxn {
  const success = t.success.map(requestOp);
  const failure = t.failure.map(requestOp);
  return {
    compares: t.compare.map(compareOf),
    success: success.map((s) => s.op),
    failure: failure.map((s) => s.op),
    successShapes: success.map((s) => s.shape),
    failureShapes: failure.map((s) => s.shape),
  };
}

type AnyResult = RangeResult<unknown> | PutResult<unknown> | DeleteResult<unknown> | TxnResult<unknown>;

function responsesOf(r: TxnResult<unknown>, success: Shape[], failure: Shape[]): ResponseOp[] {
  const branch = r.succeeded ? success : failure;
  return r.results.map((res: AnyResult, i: number): ResponseOp => {
    const shape = branch[i];
    if (shape === undefined) throw new Error('grpc: txn returned more results than ops');
    switch (shape.kind) {
      case 'range':
        return { kind: 'range', res: rangeRes(res as RangeResult<unknown>, shape.keysOnly) };
      case 'put': {
        const p = (res as PutResult<unknown>).prevKv;
        return { kind: 'put', prevKv: p === undefined ? undefined : toWireKv(p) };
      }
      case 'delete': {
        const d = res as DeleteResult<unknown>;
        return { kind: 'delete', deleted: d.deleted, prevKvs: (d.prevKvs ?? []).map((kv: KeyValue<unknown>) => toWireKv(kv)) };
      }
      case 'txn': {
        const n = res as TxnResult<unknown>;
        return { kind: 'txn', succeeded: n.succeeded, responses: responsesOf(n, shape.success, shape.failure) };
      }
    }
  });
}

async function txn(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const decoded = decodeTxn(new ProtoReader(request));
  const t = buildTxn(decoded);
  requireTxn(ctx, call, decoded);
  for (const lease of txnLeases(decoded)) await requireLeaseKeys(ctx, call, lease);
  const r = await ctx.node
    .txn()
    .if(...t.compares)
    .then(...t.success)
    .else(...t.failure)
    .commit(callOptions(call));
  const w = new ProtoWriter();
  writeTxnBody(w, headerOf(ctx, r.revision), r.succeeded, responsesOf(r, t.successShapes, t.failureShapes));
  return w.finish();
}

async function compact(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const m = decodeCompact(new ProtoReader(request));
  const ours = fromEtcdRev(m.revision);
  const st = ctx.node.status();
  if (m.revision <= 0 || ours <= st.compactRevision) {
    // etcd revision 1 on a never-compacted store is a no-op, as etcd's first compaction at 1 is.
    if (!(ours === 0 && st.compactRevision === 0 && m.revision === 1)) throw Etcd.compacted();
  } else {
    await ctx.node.compact(ours, { ...callOptions(call), physical: m.physical });
  }
  const w = new ProtoWriter();
  w.message(1, (h) => {
    const head = headerOf(ctx);
    h.int(1, head.clusterId).int(2, head.memberId).int(3, head.revision).int(4, head.raftTerm);
  });
  return w.finish();
}

export const kvMethods: Readonly<Record<string, Method>> = {
  '/etcdserverpb.KV/Range': { kind: 'unary', fn: range },
  '/etcdserverpb.KV/Put': { kind: 'unary', fn: put },
  '/etcdserverpb.KV/DeleteRange': { kind: 'unary', fn: deleteRange },
  '/etcdserverpb.KV/Txn': { kind: 'unary', fn: txn },
  '/etcdserverpb.KV/Compact': { kind: 'unary', fn: compact },
};
