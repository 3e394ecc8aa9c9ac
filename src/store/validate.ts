/**
 * Stateless checks on a command: its shape (it may come from the wire), key lengths, txn op count,
 * duplicate writes in a txn (etcd's rules) and the encoded request size. They depend only on the
 * command and the limits, so a proposer can run them before proposing and every member gets the
 * same answer when applying.
 */
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS } from '../limits.ts';
import { DuplicateKeyError, InvalidArgumentError, RequestTooLargeError, TooManyOpsError } from '../errors.ts';
import type { Command, KeyRange, PutRequest, StoreLimits, TxnOp, TxnRequest } from './types.ts';
import { boundsOf, inBounds } from './range.ts';
import type { Bounds } from './range.ts';

export interface ResolvedLimits {
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly maxKeyBytes: number;
}

/** @default maxRequestBytes 1.5 MiB, maxTxnOps 128, maxKeyBytes 8192 */
export const DEFAULT_LIMITS: ResolvedLimits = Object.freeze({ maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES, maxTxnOps: DEFAULT_MAX_TXN_OPS, maxKeyBytes: DEFAULT_MAX_KEY_BYTES });

export function resolveLimits(limits: StoreLimits = {}): ResolvedLimits {
  const out = { ...DEFAULT_LIMITS, ...stripUndefined(limits) };
  for (const [name, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`store: ${name} must be a positive integer (got ${String(v)})`);
  }
  return Object.freeze(out);
}

function stripUndefined(l: StoreLimits): Partial<ResolvedLimits> {
  const out: { -readonly [K in keyof ResolvedLimits]?: number } = {};
  if (l.maxRequestBytes !== undefined) out.maxRequestBytes = l.maxRequestBytes;
  if (l.maxTxnOps !== undefined) out.maxTxnOps = l.maxTxnOps;
  if (l.maxKeyBytes !== undefined) out.maxKeyBytes = l.maxKeyBytes;
  return out;
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

type Obj = Record<string, unknown>;
const bad = (msg: string): InvalidArgumentError => new InvalidArgumentError(`mvcc: invalid command: ${msg}`);

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}
function isNat(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
function optBool(o: Obj, f: string): void {
  if (o[f] !== undefined && typeof o[f] !== 'boolean') throw bad(`${f} must be a boolean`);
}
function optNat(o: Obj, f: string): void {
  if (o[f] !== undefined && !isNat(o[f])) throw bad(`${f} must be a non-negative integer`);
}

/** Accumulates the size estimate while walking a command. */
interface Walk {
  readonly limits: ResolvedLimits;
  bytes: number;
}

/** Checks a key (or range bound); returns its share of the encoded-size bound. */
function checkKey(limits: ResolvedLimits, key: unknown, allowEmpty = false): number {
  if (typeof key !== 'string') throw bad('key must be a string');
  if (key.length === 0 && !allowEmpty) throw bad('key must not be empty');
  const max = limits.maxKeyBytes;
  if (key.length * 3 > max) {
    const n = utf8Length(key);
    if (n > max) throw new RequestTooLargeError('key', n, max);
  }
  return key.length * 3 + 8;
}

/** Checks a range's shape and bounds; returns its share of the encoded-size bound. */
function checkRange(limits: ResolvedLimits, r: unknown): number {
  if (!isObj(r)) throw bad('range must be an object');
  if ('key' in r) return checkKey(limits, r['key']);
  if ('prefix' in r) return checkKey(limits, r['prefix'], true);
  if ('start' in r) {
    const n = checkKey(limits, r['start'], true);
    return r['end'] === undefined ? n : n + checkKey(limits, r['end'], true);
  }
  throw bad('range needs key, prefix or start');
}

function checkExpect(e: unknown): void {
  if (e === undefined || e === 'absent' || e === 'present') return;
  if (!isObj(e)) throw bad('expect must be absent, present or an object');
  if ('value' in e) {
    if (!(e['value'] instanceof Uint8Array)) throw bad('expect.value must be bytes');
  } else if ('modRevision' in e) {
    if (!isNat(e['modRevision'])) throw bad('expect.modRevision must be a non-negative integer');
  } else if ('version' in e) {
    if (!isNat(e['version'])) throw bad('expect.version must be a non-negative integer');
  } else throw bad('expect needs value, modRevision or version');
}

/** Checks a put request; returns its share of the encoded-size bound. */
function checkPut(limits: ResolvedLimits, r: unknown): number {
  if (!isObj(r)) throw bad('put request must be an object');
  // Named reads (not optBool(r, name)): this runs on every put, and a named property read is a
  // cheap inline-cached load where a computed one is a generic lookup.
  const { key, value, lease, prevKv, ignoreValue, ignoreLease, expect } = r as { readonly [K in keyof PutRequest]?: unknown };
  const bytes = checkKey(limits, key);
  if (!(value instanceof Uint8Array)) throw bad('value must be a Uint8Array');
  if (lease !== undefined && !isNat(lease)) throw bad('lease must be a non-negative integer');
  if (prevKv !== undefined && typeof prevKv !== 'boolean') throw bad('prevKv must be a boolean');
  if (ignoreValue !== undefined && typeof ignoreValue !== 'boolean') throw bad('ignoreValue must be a boolean');
  if (ignoreLease !== undefined && typeof ignoreLease !== 'boolean') throw bad('ignoreLease must be a boolean');
  if (expect !== undefined) checkExpect(expect);
  return bytes + value.length + 16;
}

function checkDelete(w: Walk, r: unknown): void {
  if (!isObj(r)) throw bad('delete request must be an object');
  w.bytes += checkRange(w.limits, r['range']);
  optBool(r, 'prevKv');
  checkExpect(r['expect']);
  if (r['expect'] !== undefined && !('key' in (r['range'] as Obj))) throw bad('delete expect needs a single-key range');
}

const SORT_BY = new Set(['key', 'createRevision', 'modRevision', 'version', 'value']);
function checkRangeOptions(o: unknown): void {
  if (o === undefined) return;
  if (!isObj(o)) throw bad('range options must be an object');
  for (const f of ['revision', 'limit', 'minCreateRevision', 'maxCreateRevision', 'minModRevision', 'maxModRevision']) optNat(o, f);
  optBool(o, 'keysOnly');
  optBool(o, 'countOnly');
  const s = o['sort'];
  if (s !== undefined) {
    if (!isObj(s) || !SORT_BY.has(s['by'] as string)) throw bad('sort.by is invalid');
    if (s['order'] !== undefined && s['order'] !== 'asc' && s['order'] !== 'desc') throw bad('sort.order is invalid');
  }
}

const TARGETS = new Set(['value', 'version', 'createRevision', 'modRevision', 'lease']);
const OPS = new Set(['==', '!=', '<', '>']);

/** Returns the number of compares + ops in the txn, nested ones included. */
function checkTxn(w: Walk, t: unknown, depth: number): number {
  if (!isObj(t)) throw bad('txn request must be an object');
  if (depth > w.limits.maxTxnOps) throw bad('txn nesting too deep');
  const { compare, success, failure } = t;
  if (!Array.isArray(compare) || !Array.isArray(success) || !Array.isArray(failure)) throw bad('txn needs compare, success and failure arrays');
  let n = compare.length;
  for (const c of compare as unknown[]) {
    if (!isObj(c)) throw bad('compare must be an object');
    w.bytes += checkRange(w.limits, c['range']);
    if (!TARGETS.has(c['target'] as string)) throw bad('compare target is invalid');
    if (!OPS.has(c['op'] as string)) throw bad('compare op is invalid');
    const v = c['value'];
    if (c['target'] === 'value') {
      if (!(v instanceof Uint8Array)) throw bad('a value compare needs bytes');
      w.bytes += v.length;
    } else if (!isNat(v)) throw bad('a numeric compare needs a non-negative integer');
  }
  for (const op of [...(success as unknown[]), ...(failure as unknown[])]) {
    n += 1;
    if (!isObj(op)) throw bad('txn op must be an object');
    if (op['type'] === 'put') w.bytes += checkPut(w.limits, op['request']);
    else if (op['type'] === 'delete') checkDelete(w, op['request']);
    else if (op['type'] === 'range') {
      w.bytes += checkRange(w.limits, op['range']);
      checkRangeOptions(op['options']);
    } else if (op['type'] === 'txn') n += checkTxn(w, op['request'], depth + 1);
    else throw bad('txn op type is invalid');
    if (n > w.limits.maxTxnOps) throw new TooManyOpsError(n, w.limits.maxTxnOps);
  }
  if (n > w.limits.maxTxnOps) throw new TooManyOpsError(n, w.limits.maxTxnOps);
  return n;
}

/**
 * Shape and limit checks (and duplicate txn writes unless `duplicates` is false). Returns an upper bound of the encoded size; the caller measures exactly
 * only when the bound is over the limit.
 */
export function checkCommand(cmd: unknown, limits: ResolvedLimits, duplicates = true): number {
  if (!isObj(cmd)) throw bad('command must be an object');
  // The common command first, without the walk's accumulator.
  if (cmd['type'] === 'put') return 16 + checkPut(limits, cmd['request']);
  const w: Walk = { limits, bytes: 16 };
  switch (cmd['type']) {
    case 'delete':
      checkDelete(w, cmd['request']);
      break;
    case 'txn':
      checkTxn(w, cmd['request'], 0);
      if (duplicates) checkDuplicates(cmd['request'] as TxnRequest);
      break;
    case 'compact':
      if (!isNat(cmd['revision'])) throw bad('compact revision must be a non-negative integer');
      break;
    case 'leaseGrant':
      if (!isNat(cmd['id']) || cmd['id'] === 0) throw bad('lease id must be a positive integer');
      if (!isNat(cmd['ttlMs']) || cmd['ttlMs'] === 0) throw bad('lease ttlMs must be a positive integer');
      break;
    case 'leaseRevoke':
      if (!isNat(cmd['id']) || cmd['id'] === 0) throw bad('lease id must be a positive integer');
      break;
    default:
      throw bad('unknown command type');
  }
  return w.bytes;
}

/** etcd's checkIntervals: puts must be unique and must not fall in a delete range of the same branch. */
export function checkDuplicates(t: TxnRequest): void {
  checkIntervals(t.success);
  checkIntervals(t.failure);
}

function anyContains(dels: readonly Bounds[], key: string): boolean {
  for (const d of dels) if (inBounds(d, key)) return true;
  return false;
}

function checkIntervals(ops: readonly TxnOp[]): { puts: Set<string>; dels: Bounds[] } {
  const dels: Bounds[] = [];
  for (const op of ops) if (op.type === 'delete') dels.push(boundsOf(op.request.range));
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.type !== 'txn') continue;
    const a = checkIntervals(op.request.success);
    const b = checkIntervals(op.request.failure);
    // Stricter than etcd: a key put by an earlier nested txn must not be deleted by a later one
    // (etcd allows it with sub-revisions; here a key has at most one record per revision).
    for (const k of puts) if (anyContains(a.dels, k) || anyContains(b.dels, k)) throw new DuplicateKeyError(k);
    for (const k of a.puts) {
      if (puts.has(k) || anyContains(dels, k)) throw new DuplicateKeyError(k);
      puts.add(k);
    }
    for (const k of b.puts) {
      // then/else are exclusive, so the same key in both is fine.
      if ((puts.has(k) && !a.puts.has(k)) || anyContains(dels, k)) throw new DuplicateKeyError(k);
      puts.add(k);
    }
    dels.push(...a.dels, ...b.dels);
  }
  for (const op of ops) {
    if (op.type !== 'put') continue;
    const k = op.request.key;
    if (puts.has(k) || anyContains(dels, k)) throw new DuplicateKeyError(k);
    puts.add(k);
  }
  return { puts, dels };
}

export function validateCommand(cmd: Command, limits: ResolvedLimits, measure: (cmd: Command) => number): void {
  const bound = checkCommand(cmd, limits);
  if (bound > limits.maxRequestBytes) {
    const size = measure(cmd);
    if (size > limits.maxRequestBytes) throw new RequestTooLargeError('request', size, limits.maxRequestBytes);
  }
}



/** Checks a point read's key and optional revision (Store.get). */
export function checkGet(key: unknown, revision: unknown, limits: ResolvedLimits): void {
  checkKey(limits, key);
  if (revision !== undefined && !isNat(revision)) throw bad('revision must be a non-negative integer');
}

/** Shape checks for a read (Store.range / watch), which do not go through a command. */
export function checkRead(range: KeyRange, options: unknown, limits: ResolvedLimits): void {
  checkRange(limits, range);
  if (options !== undefined) checkRangeOptions(options);
}
