/**
 * Conversions between the typed node API and the store's byte-level commands and results.
 */
import { InvalidArgumentError } from '../errors.ts';
import type {
  Compare,
  DeleteRequest,
  Expectation,
  PutRequest,
  RangeOptions,
  StoredDeleteResult,
  StoredKeyValue,
  StoredPutResult,
  StoredRangeResult,
  StoredTxnResult,
  TxnOp,
  TxnRequest,
} from '../store/types.ts';
import type { Op, OpDeleteOptions, OpPutOptions, OpRangeOptions, TxnSpec } from './txn-builder.ts';
import type { DeleteResult, Expect, KeyValue, PutResult, RangeResult, TxnOpResultValue, TxnResult, ValueCodec } from './types.ts';

export function toKeyValue<T>(kv: StoredKeyValue, codec: ValueCodec, keysOnly = false): KeyValue<T> {
  const value = (keysOnly || kv.value.length === 0 ? undefined : codec.decode(kv.value)) as T;
  const out: { -readonly [K in keyof KeyValue<T>]: KeyValue<T>[K] } = {
    key: kv.key,
    value,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
  if (kv.lease !== 0) out.lease = kv.lease;
  return out;
}

export function toRangeResult<T>(r: StoredRangeResult, codec: ValueCodec, keysOnly = false): RangeResult<T> {
  return { kvs: r.kvs.map((kv) => toKeyValue<T>(kv, codec, keysOnly)), count: r.count, more: r.more, revision: r.revision };
}

export function toPutResult<T>(r: StoredPutResult, codec: ValueCodec): PutResult<T> {
  return r.prevKv === undefined ? { revision: r.revision } : { revision: r.revision, prevKv: toKeyValue<T>(r.prevKv, codec) };
}

export function toDeleteResult<T>(r: StoredDeleteResult, codec: ValueCodec): DeleteResult<T> {
  const out: { revision: number; deleted: number; prevKvs?: KeyValue<T>[] } = { revision: r.revision, deleted: r.deleted };
  if (r.prevKvs !== undefined) out.prevKvs = r.prevKvs.map((kv) => toKeyValue<T>(kv, codec));
  return out;
}

export function toTxnResult<T>(r: StoredTxnResult, codec: ValueCodec, spec?: TxnSpec): TxnResult<T> {
  const branch = r.succeeded ? spec?.then : spec?.else;
  const results: TxnOpResultValue<T>[] = r.results.map((res, i) => {
    const source = branch?.[i];
    switch (res.type) {
      case 'put':
        return toPutResult<T>(res.result, codec);
      case 'range':
        return toRangeResult<T>(res.result, codec, source?.kind === 'range' && source.options.keysOnly === true);
      case 'delete':
        return toDeleteResult<T>(res.result, codec);
      case 'txn':
        return toTxnResult<T>(res.result, codec, source?.kind === 'txn' ? source.spec : undefined);
    }
  });
  return { succeeded: r.succeeded, revision: r.revision, results };
}

export function toExpectation(expect: Expect | undefined, codec: ValueCodec): Expectation | undefined {
  if (expect === undefined) return undefined;
  if (expect === 'absent' || expect === 'present') return expect;
  if (typeof expect === 'object' && expect !== null) {
    if ('value' in expect) return { value: codec.encode(expect.value) };
    if ('modRevision' in expect && Number.isSafeInteger(expect.modRevision)) return { modRevision: expect.modRevision };
    if ('version' in expect && Number.isSafeInteger(expect.version)) return { version: expect.version };
  }
  throw new InvalidArgumentError("node: expect must be 'absent', 'present', { value }, { modRevision } or { version }");
}

function nonNegativeInt(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`node: ${field} must be a non-negative integer`);
  return value;
}

export function toPutRequest(key: string, value: unknown, options: OpPutOptions, codec: ValueCodec, lease?: number): PutRequest {
  if (typeof key !== 'string' || key === '') throw new InvalidArgumentError('node: key must be a non-empty string');
  const req: { -readonly [K in keyof PutRequest]: PutRequest[K] } = {
    key,
    value: options.ignoreValue === true && value === undefined ? new Uint8Array(0) : codec.encode(value),
  };
  const leaseId = nonNegativeInt(lease ?? options.lease, 'lease');
  if (leaseId !== undefined && leaseId !== 0) req.lease = leaseId;
  if (options.prevKv === true) req.prevKv = true;
  if (options.ignoreValue === true) req.ignoreValue = true;
  if (options.ignoreLease === true) req.ignoreLease = true;
  const expect = toExpectation(options.expect, codec);
  if (expect !== undefined) req.expect = expect;
  return req;
}

export function toDeleteRequest(range: DeleteRequest['range'], options: OpDeleteOptions, codec: ValueCodec): DeleteRequest {
  const req: { -readonly [K in keyof DeleteRequest]: DeleteRequest[K] } = { range };
  if (options.prevKv === true) req.prevKv = true;
  const expect = toExpectation(options.expect, codec);
  if (expect !== undefined) req.expect = expect;
  return req;
}

export function toRangeOptions(options: OpRangeOptions): RangeOptions {
  const out: { -readonly [K in keyof RangeOptions]: RangeOptions[K] } = {};
  const revision = nonNegativeInt(options.revision, 'revision');
  if (revision !== undefined && revision !== 0) out.revision = revision;
  const limit = nonNegativeInt(options.limit, 'limit');
  if (limit !== undefined && limit !== 0) out.limit = limit;
  if (options.sort !== undefined) {
    const by = options.sort.by;
    if (!['key', 'createRevision', 'modRevision', 'version', 'value'].includes(by)) throw new InvalidArgumentError('node: sort.by is not a sort target');
    const order = options.sort.order;
    if (order !== undefined && order !== 'asc' && order !== 'desc') throw new InvalidArgumentError("node: sort.order must be 'asc' or 'desc'");
    out.sort = order === undefined ? { by } : { by, order };
  }
  if (options.keysOnly === true) out.keysOnly = true;
  if (options.countOnly === true) out.countOnly = true;
  for (const f of ['minCreateRevision', 'maxCreateRevision', 'minModRevision', 'maxModRevision'] as const) {
    const v = nonNegativeInt(options[f], f);
    if (v !== undefined && v !== 0) out[f] = v;
  }
  return out;
}

function toCompare(c: TxnSpec['if'] extends readonly (infer C)[] | undefined ? C : never, codec: ValueCodec): Compare {
  return {
    range: c.range,
    target: c.target,
    op: c.op,
    value: c.target === 'value' ? codec.encode(c.operand) : (c.operand as number),
  };
}

function toTxnOp(o: Op, codec: ValueCodec): TxnOp {
  switch (o.kind) {
    case 'put':
      return { type: 'put', request: toPutRequest(o.key, o.value, o.options, codec) };
    case 'range':
      return { type: 'range', range: o.range, options: toRangeOptions(o.options) };
    case 'delete':
      return { type: 'delete', request: toDeleteRequest(o.range, o.options, codec) };
    case 'txn':
      return { type: 'txn', request: toTxnRequest(o.spec, codec) };
  }
}

export function toTxnRequest(spec: TxnSpec, codec: ValueCodec): TxnRequest {
  return {
    compare: (spec.if ?? []).map((c) => toCompare(c, codec)),
    success: (spec.then ?? []).map((o) => toTxnOp(o, codec)),
    failure: (spec.else ?? []).map((o) => toTxnOp(o, codec)),
  };
}
