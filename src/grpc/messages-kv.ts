/**
 * etcdserverpb KV messages (rpc.proto, kv.proto of etcd v3.4; field numbers are etcd's):
 * request decoders that validate every field, and response encoders. Revisions are decoded as
 * etcd sends them; the service maps them (revision.ts).
 */
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_LEN, WIRE_VARINT, ProtoDecodeError } from './wire.ts';

export interface RangeReq {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  limit: number;
  revision: number;
  sortOrder: number;
  sortTarget: number;
  serializable: boolean;
  keysOnly: boolean;
  countOnly: boolean;
  minModRevision: number;
  maxModRevision: number;
  minCreateRevision: number;
  maxCreateRevision: number;
}

export interface PutReq {
  key: Uint8Array;
  value: Uint8Array;
  lease: number;
  prevKv: boolean;
  ignoreValue: boolean;
  ignoreLease: boolean;
}

export interface DeleteReq {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  prevKv: boolean;
}

export type CompareTargetNo = 0 | 1 | 2 | 3 | 4;

export interface CompareReq {
  result: number;
  target: number;
  key: Uint8Array;
  rangeEnd: Uint8Array;
  /** Which target_union member was set (field number 4..8), 0 when none. */
  unionField: number;
  intValue: number;
  bytesValue: Uint8Array;
}

export type RequestOp =
  | { readonly kind: 'range'; readonly req: RangeReq }
  | { readonly kind: 'put'; readonly req: PutReq }
  | { readonly kind: 'delete'; readonly req: DeleteReq }
  | { readonly kind: 'txn'; readonly req: TxnReq };

export interface TxnReq {
  compare: CompareReq[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface CompactReq {
  revision: number;
  physical: boolean;
}

const EMPTY = new Uint8Array(0);

function int(r: ProtoReader, wire: number, name: string): number {
  expectWire(wire, WIRE_VARINT, name);
  return r.int53(name);
}

function bool(r: ProtoReader, wire: number, name: string): boolean {
  expectWire(wire, WIRE_VARINT, name);
  return r.bool();
}

function bytes(r: ProtoReader, wire: number, name: string): Uint8Array {
  expectWire(wire, WIRE_LEN, name);
  return r.bytes();
}

function enumOf(r: ProtoReader, wire: number, name: string, max: number): number {
  expectWire(wire, WIRE_VARINT, name);
  const v = r.int32();
  if (v < 0 || v > max) throw new ProtoDecodeError(`${name} ${v} is not a known value`);
  return v;
}

export function decodeRange(r: ProtoReader): RangeReq {
  const m: RangeReq = {
    key: EMPTY,
    rangeEnd: EMPTY,
    limit: 0,
    revision: 0,
    sortOrder: 0,
    sortTarget: 0,
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: 0,
    maxModRevision: 0,
    minCreateRevision: 0,
    maxCreateRevision: 0,
  };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: m.key = bytes(r, w, 'key'); return true;
      case 2: m.rangeEnd = bytes(r, w, 'range_end'); return true;
      case 3: m.limit = int(r, w, 'limit'); return true;
      case 4: m.revision = int(r, w, 'revision'); return true;
      case 5: m.sortOrder = enumOf(r, w, 'sort_order', 2); return true;
      case 6: m.sortTarget = enumOf(r, w, 'sort_target', 4); return true;
      case 7: m.serializable = bool(r, w, 'serializable'); return true;
      case 8: m.keysOnly = bool(r, w, 'keys_only'); return true;
      case 9: m.countOnly = bool(r, w, 'count_only'); return true;
      case 10: m.minModRevision = int(r, w, 'min_mod_revision'); return true;
      case 11: m.maxModRevision = int(r, w, 'max_mod_revision'); return true;
      case 12: m.minCreateRevision = int(r, w, 'min_create_revision'); return true;
      case 13: m.maxCreateRevision = int(r, w, 'max_create_revision'); return true;
      default: return false;
    }
  });
  return m;
}

export function decodePut(r: ProtoReader): PutReq {
  const m: PutReq = { key: EMPTY, value: EMPTY, lease: 0, prevKv: false, ignoreValue: false, ignoreLease: false };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: m.key = bytes(r, w, 'key'); return true;
      case 2: m.value = bytes(r, w, 'value'); return true;
      case 3: m.lease = int(r, w, 'lease'); return true;
      case 4: m.prevKv = bool(r, w, 'prev_kv'); return true;
      case 5: m.ignoreValue = bool(r, w, 'ignore_value'); return true;
      case 6: m.ignoreLease = bool(r, w, 'ignore_lease'); return true;
      default: return false;
    }
  });
  return m;
}

export function decodeDelete(r: ProtoReader): DeleteReq {
  const m: DeleteReq = { key: EMPTY, rangeEnd: EMPTY, prevKv: false };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: m.key = bytes(r, w, 'key'); return true;
      case 2: m.rangeEnd = bytes(r, w, 'range_end'); return true;
      case 3: m.prevKv = bool(r, w, 'prev_kv'); return true;
      default: return false;
    }
  });
  return m;
}

function decodeCompare(r: ProtoReader): CompareReq {
  const m: CompareReq = { result: 0, target: 0, key: EMPTY, rangeEnd: EMPTY, unionField: 0, intValue: 0, bytesValue: EMPTY };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: m.result = enumOf(r, w, 'compare.result', 3); return true;
      case 2: m.target = enumOf(r, w, 'compare.target', 4); return true;
      case 3: m.key = bytes(r, w, 'compare.key'); return true;
      case 4:
      case 5:
      case 6:
      case 8:
        m.unionField = f;
        m.intValue = int(r, w, 'compare operand');
        return true;
      case 7:
        m.unionField = f;
        m.bytesValue = bytes(r, w, 'compare.value');
        return true;
      case 64: m.rangeEnd = bytes(r, w, 'compare.range_end'); return true;
      default: return false;
    }
  });
  return m;
}

/** Nesting depth of txns accepted (etcd bounds the total ops; we bound recursion too). */
export const MAX_TXN_DEPTH = 16;

function decodeRequestOp(r: ProtoReader, depth: number): RequestOp {
  let op: RequestOp | undefined;
  readFields(r, (f, w) => {
    switch (f) {
      case 1: expectWire(w, WIRE_LEN, 'request_range'); op = { kind: 'range', req: decodeRange(r.message()) }; return true;
      case 2: expectWire(w, WIRE_LEN, 'request_put'); op = { kind: 'put', req: decodePut(r.message()) }; return true;
      case 3: expectWire(w, WIRE_LEN, 'request_delete_range'); op = { kind: 'delete', req: decodeDelete(r.message()) }; return true;
      case 4: expectWire(w, WIRE_LEN, 'request_txn'); op = { kind: 'txn', req: decodeTxnAt(r.message(), depth + 1) }; return true;
      default: return false;
    }
  });
  if (op === undefined) throw new ProtoDecodeError('a txn RequestOp sets none of request_range, request_put, request_delete_range, request_txn');
  return op;
}

function decodeTxnAt(r: ProtoReader, depth: number): TxnReq {
  if (depth > MAX_TXN_DEPTH) throw new ProtoDecodeError(`txn nested deeper than ${MAX_TXN_DEPTH}`);
  const m: TxnReq = { compare: [], success: [], failure: [] };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: expectWire(w, WIRE_LEN, 'compare'); m.compare.push(decodeCompare(r.message())); return true;
      case 2: expectWire(w, WIRE_LEN, 'success'); m.success.push(decodeRequestOp(r.message(), depth)); return true;
      case 3: expectWire(w, WIRE_LEN, 'failure'); m.failure.push(decodeRequestOp(r.message(), depth)); return true;
      default: return false;
    }
  });
  return m;
}

export function decodeTxn(r: ProtoReader): TxnReq {
  return decodeTxnAt(r, 0);
}

export function decodeCompact(r: ProtoReader): CompactReq {
  const m: CompactReq = { revision: 0, physical: false };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: m.revision = int(r, w, 'revision'); return true;
      case 2: m.physical = bool(r, w, 'physical'); return true;
      default: return false;
    }
  });
  return m;
}

// ------------------------------------------------------------------ responses

/** etcd's ResponseHeader, revision already in etcd numbering. */
export interface Header {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: number;
  readonly raftTerm: number;
}

export function writeHeader(w: ProtoWriter, h: Header): void {
  w.message(1, (m) => m.int(1, h.clusterId).int(2, h.memberId).int(3, h.revision).int(4, h.raftTerm));
}

/** mvccpb.KeyValue, revisions already in etcd numbering. */
export interface WireKv {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  readonly lease: number;
}

export function writeKv(w: ProtoWriter, field: number, kv: WireKv): void {
  w.message(field, (m) => m.bytes(1, kv.key).int(2, kv.createRevision).int(3, kv.modRevision).int(4, kv.version).bytes(5, kv.value).int(6, kv.lease));
}

export interface RangeRes {
  readonly kvs: readonly WireKv[];
  readonly more: boolean;
  readonly count: number;
}

export function writeRangeBody(w: ProtoWriter, h: Header, r: RangeRes): void {
  writeHeader(w, h);
  for (const kv of r.kvs) writeKv(w, 2, kv);
  w.bool(3, r.more).int(4, r.count);
}

export function writePutBody(w: ProtoWriter, h: Header, prevKv: WireKv | undefined): void {
  writeHeader(w, h);
  if (prevKv !== undefined) writeKv(w, 2, prevKv);
}

export function writeDeleteBody(w: ProtoWriter, h: Header, deleted: number, prevKvs: readonly WireKv[]): void {
  writeHeader(w, h);
  w.int(2, deleted);
  for (const kv of prevKvs) writeKv(w, 3, kv);
}

export type ResponseOp =
  | { readonly kind: 'range'; readonly res: RangeRes }
  | { readonly kind: 'put'; readonly prevKv: WireKv | undefined }
  | { readonly kind: 'delete'; readonly deleted: number; readonly prevKvs: readonly WireKv[] }
  | { readonly kind: 'txn'; readonly succeeded: boolean; readonly responses: readonly ResponseOp[] };

export function writeTxnBody(w: ProtoWriter, h: Header, succeeded: boolean, responses: readonly ResponseOp[]): void {
  writeHeader(w, h);
  w.bool(2, succeeded);
  for (const op of responses) {
    w.message(3, (o) => {
      switch (op.kind) {
        case 'range':
          o.message(1, (m) => writeRangeBody(m, h, op.res));
          return;
        case 'put':
          o.message(2, (m) => writePutBody(m, h, op.prevKv));
          return;
        case 'delete':
          o.message(3, (m) => writeDeleteBody(m, h, op.deleted, op.prevKvs));
          return;
        case 'txn':
          o.message(4, (m) => writeTxnBody(m, h, op.succeeded, op.responses));
          return;
      }
    });
  }
}
