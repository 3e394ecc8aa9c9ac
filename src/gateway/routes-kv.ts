/**
 * `/v3/kv/*`: range, put, deleterange, txn, compaction — etcd's KV service in gateway JSON.
 */
import { InvalidArgumentError } from '../errors.ts';
import { cmp, op } from '../node/txn-builder.ts';
import type { DeleteResult, KeyValue, PutResult, RangeResult, TxnResult } from '../node/types.ts';
import type { RouteContext, UnaryHandler } from './context.ts';
import { header, kvJson, setInt } from './encode.ts';
import type { JsonObject } from './types.ts';
import { asObject, optArray, optBool, optBytes, optEnum, optInt, optKey, pick, rangeOf } from './validate.ts';
import type { Body } from './validate.ts';

/** Nested `request_txn` depth accepted before the request is refused. */
export const MAX_TXN_DEPTH = 16;

type Cmp = ReturnType<typeof cmp.version>;
type Op = ReturnType<typeof op.get>;
type SortBy = 'key' | 'version' | 'createRevision' | 'modRevision' | 'value';

const SORT_ORDERS = ['NONE', 'ASCEND', 'DESCEND'] as const;
const SORT_TARGETS = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'] as const;
const SORT_BY: Readonly<Record<(typeof SORT_TARGETS)[number], SortBy>> = {
  KEY: 'key',
  VERSION: 'version',
  CREATE: 'createRevision',
  MOD: 'modRevision',
  VALUE: 'value',
};

interface RangeOpts {
  limit?: number;
  revision?: number;
  sort?: { by: SortBy; order: 'asc' | 'desc' };
  keysOnly?: boolean;
  countOnly?: boolean;
  minCreateRevision?: number;
  maxCreateRevision?: number;
  minModRevision?: number;
  maxModRevision?: number;
}

function rangeOptions(b: Body): RangeOpts {
  const out: RangeOpts = {};
  const limit = optInt(b, 'limit');
  if (limit) out.limit = limit;
  const revision = optInt(b, 'revision');
  if (revision) out.revision = revision;
  const order = optEnum(b, 'sort_order', SORT_ORDERS);
  const target = optEnum(b, 'sort_target', SORT_TARGETS);
  // etcd: no order with a non-key target still sorts ascending by that target.
  if (order !== 'NONE' || target !== 'KEY') out.sort = { by: SORT_BY[target], order: order === 'DESCEND' ? 'desc' : 'asc' };
  if (optBool(b, 'keys_only')) out.keysOnly = true;
  if (optBool(b, 'count_only')) out.countOnly = true;
  for (const [field, name] of [
    ['min_create_revision', 'minCreateRevision'],
    ['max_create_revision', 'maxCreateRevision'],
    ['min_mod_revision', 'minModRevision'],
    ['max_mod_revision', 'maxModRevision'],
  ] as const) {
    const n = optInt(b, field);
    if (n) out[name] = n;
  }
  return out;
}

export function rangeJson(r: RangeResult<unknown>, head: JsonObject, keysOnly: boolean): JsonObject {
  const out: JsonObject = { header: head };
  if (r.kvs.length > 0) out['kvs'] = r.kvs.map((kv) => kvJson(kv, keysOnly));
  if (r.more) out['more'] = true;
  setInt(out, 'count', r.count);
  return out;
}

function putJson(r: PutResult<unknown>, head: JsonObject): JsonObject {
  const out: JsonObject = { header: head };
  if (r.prevKv !== undefined) out['prev_kv'] = kvJson(r.prevKv);
  return out;
}

function deleteJson(r: DeleteResult<unknown>, head: JsonObject): JsonObject {
  const out: JsonObject = { header: head };
  setInt(out, 'deleted', r.deleted);
  if (r.prevKvs !== undefined && r.prevKvs.length > 0) out['prev_kvs'] = r.prevKvs.map((kv: KeyValue<unknown>) => kvJson(kv));
  return out;
}

const range: UnaryHandler = async (ctx) => {
  const opts = rangeOptions(ctx.body);
  const consistency = optBool(ctx.body, 'serializable') ? 'serializable' : 'linearizable';
  const r = await ctx.node.range(rangeOf(ctx.body), { ...opts, consistency, ...ctx.call });
  return rangeJson(r, header(ctx.node.status(), r.revision), opts.keysOnly === true);
};

interface PutArgs {
  key: string;
  value: Uint8Array;
  options: { lease?: number; prevKv?: boolean; ignoreValue?: boolean; ignoreLease?: boolean };
}

function putArgs(b: Body): PutArgs {
  const key = optKey(b, 'key');
  if (key === undefined || key === '') throw new InvalidArgumentError('gateway: key is required');
  const value = optBytes(b, 'value') ?? new Uint8Array(0);
  const options: PutArgs['options'] = {};
  const lease = optInt(b, 'lease');
  if (lease) options.lease = lease;
  if (optBool(b, 'prev_kv')) options.prevKv = true;
  if (optBool(b, 'ignore_value')) options.ignoreValue = true;
  if (optBool(b, 'ignore_lease')) options.ignoreLease = true;
  if (options.ignoreValue && value.length > 0) throw new InvalidArgumentError('gateway: value must be empty with ignore_value');
  if (options.ignoreLease && options.lease !== undefined) throw new InvalidArgumentError('gateway: lease must be 0 with ignore_lease');
  return { key, value, options };
}

const put: UnaryHandler = async (ctx) => {
  const a = putArgs(ctx.body);
  const r = await ctx.node.put(a.key, a.value, { ...a.options, ...ctx.call });
  return putJson(r, header(ctx.node.status(), r.revision));
};

const deleteRange: UnaryHandler = async (ctx) => {
  const prevKv = optBool(ctx.body, 'prev_kv');
  const r = await ctx.node.delete(rangeOf(ctx.body), { prevKv, ...ctx.call });
  return deleteJson(r, header(ctx.node.status(), r.revision));
};

const compaction: UnaryHandler = async (ctx) => {
  const revision = optInt(ctx.body, 'revision', 1);
  if (revision === undefined) throw new InvalidArgumentError('gateway: revision is required');
  await ctx.node.compact(revision, ctx.call);
  return { header: header(ctx.node.status()) };
};

// ---- txn ----

const CMP_TARGETS = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'] as const;
const CMP_RESULTS = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'] as const;
const CMP_OPS = { EQUAL: '==', GREATER: '>', LESS: '<', NOT_EQUAL: '!=' } as const;

function compareOf(raw: unknown): Cmp {
  const c = asObject(raw, 'compare[]');
  const target = optEnum(c, 'target', CMP_TARGETS);
  const operator = CMP_OPS[optEnum(c, 'result', CMP_RESULTS)];
  const r = rangeOf(c);
  switch (target) {
    case 'VALUE':
      return cmp.value(r, operator, optBytes(c, 'value') ?? new Uint8Array(0));
    case 'VERSION':
      return cmp.version(r, operator, optInt(c, 'version') ?? 0);
    case 'CREATE':
      return cmp.createRevision(r, operator, optInt(c, 'create_revision') ?? 0);
    case 'MOD':
      return cmp.modRevision(r, operator, optInt(c, 'mod_revision') ?? 0);
    case 'LEASE':
      return cmp.lease(r, operator, optInt(c, 'lease') ?? 0);
  }
}

/** What each op of the chosen branch was, to shape its result. */
type OpShape =
  | { readonly kind: 'range'; readonly keysOnly: boolean }
  | { readonly kind: 'put' }
  | { readonly kind: 'delete' }
  | { readonly kind: 'txn'; readonly success: OpShape[]; readonly failure: OpShape[] };

interface BuiltTxn {
  readonly compares: Cmp[];
  readonly success: Op[];
  readonly failure: Op[];
  readonly successShapes: OpShape[];
  readonly failureShapes: OpShape[];
}

function requestOp(raw: unknown, depth: number): { op: Op; shape: OpShape } {
  const r = asObject(raw, 'request op');
  if (pick(r, 'request_range') !== undefined) {
    const b = asObject(pick(r, 'request_range'), 'request_range');
    const opts = rangeOptions(b);
    return { op: op.range(rangeOf(b), opts), shape: { kind: 'range', keysOnly: opts.keysOnly === true } };
  }
  if (pick(r, 'request_put') !== undefined) {
    const a = putArgs(asObject(pick(r, 'request_put'), 'request_put'));
    return { op: op.put(a.key, a.value, a.options), shape: { kind: 'put' } };
  }
  if (pick(r, 'request_delete_range') !== undefined) {
    const b = asObject(pick(r, 'request_delete_range'), 'request_delete_range');
    return { op: op.delete(rangeOf(b), { prevKv: optBool(b, 'prev_kv') }), shape: { kind: 'delete' } };
  }
  if (pick(r, 'request_txn') !== undefined) {
    const t = buildTxn(asObject(pick(r, 'request_txn'), 'request_txn'), depth + 1);
    const nested = op.txn({ if: t.compares, then: t.success, else: t.failure });
    return { op: nested, shape: { kind: 'txn', success: t.successShapes, failure: t.failureShapes } };
  }
  throw new InvalidArgumentError('gateway: a txn op needs request_range, request_put, request_delete_range or request_txn');
}

function buildTxn(b: Body, depth: number): BuiltTxn {
  if (depth > MAX_TXN_DEPTH) throw new InvalidArgumentError(`gateway: txn nested deeper than ${MAX_TXN_DEPTH}`);
  const compares = optArray(b, 'compare').map(compareOf);
  const success = optArray(b, 'success').map((o) => requestOp(o, depth));
  const failure = optArray(b, 'failure').map((o) => requestOp(o, depth));
  return {
    compares,
    success: success.map((s) => s.op),
    failure: failure.map((s) => s.op),
    successShapes: success.map((s) => s.shape),
    failureShapes: failure.map((s) => s.shape),
  };
}

type AnyResult = RangeResult<unknown> | PutResult<unknown> | DeleteResult<unknown> | TxnResult<unknown>;

function txnJson(r: TxnResult<unknown>, shapes: { success: OpShape[]; failure: OpShape[] }, head: JsonObject): JsonObject {
  const branch = r.succeeded ? shapes.success : shapes.failure;
  const responses = r.results.map((res: AnyResult, i: number): JsonObject => {
    const shape = branch[i];
    if (shape === undefined) throw new Error('gateway: txn returned more results than ops');
    switch (shape.kind) {
      case 'range':
        return { response_range: rangeJson(res as RangeResult<unknown>, head, shape.keysOnly) };
      case 'put':
        return { response_put: putJson(res as PutResult<unknown>, head) };
      case 'delete':
        return { response_delete_range: deleteJson(res as DeleteResult<unknown>, head) };
      case 'txn':
        return { response_txn: txnJson(res as TxnResult<unknown>, shape, head) };
    }
  });
  const out: JsonObject = { header: head };
  if (r.succeeded) out['succeeded'] = true;
  if (responses.length > 0) out['responses'] = responses;
  return out;
}

const txn: UnaryHandler = async (ctx: RouteContext) => {
  const t = buildTxn(ctx.body, 0);
  const r = await ctx.node
    .txn()
    .if(...t.compares)
    .then(...t.success)
    .else(...t.failure)
    .commit(ctx.call);
  return txnJson(r, { success: t.successShapes, failure: t.failureShapes }, header(ctx.node.status(), r.revision));
};

export const kvRoutes: Readonly<Record<string, UnaryHandler>> = {
  '/v3/kv/range': range,
  '/v3/kv/put': put,
  '/v3/kv/deleterange': deleteRange,
  '/v3/kv/txn': txn,
  '/v3/kv/compaction': compaction,
};
