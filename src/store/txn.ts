/**
 * Executing writes at one revision: put, delete, and (nested) transactions with compares. Every
 * write of one command shares `Writer.rev`; reads inside a transaction see its earlier writes.
 * Errors thrown part-way leave undo records so the store can roll the command back whole.
 */
import { ConflictError, KeyExistsError, KeyNotFoundError, LeaseNotFoundError } from '../errors.ts';
import { EMPTY_VALUE, toKeyValue } from './key-index.ts';
import type { Revision } from './key-index.ts';
import type { Lessor } from './lessor.ts';
import type { Change, Keyspace } from './mvcc.ts';
import { forEachLive, rangeQuery } from './range.ts';
import type {
  Compare,
  DeleteRequest,
  Expectation,
  PutRequest,
  StoredDeleteResult,
  StoredKeyValue,
  StoredPutResult,
  StoredTxnResult,
  TxnOp,
  TxnOpResult,
  TxnRequest,
} from './types.ts';

export interface UndoRecord {
  readonly key: string;
  readonly old: Revision | undefined;
}

/** The write context of one command. */
export class Writer {
  readonly ks: Keyspace;
  readonly lessor: Lessor;
  /** The revision every write of this command gets (committed only if there are changes). */
  readonly rev: number;
  readonly changes: Change[] = [];
  /** Present for transactions, which may fail after writing. */
  readonly undo: UndoRecord[] | undefined;

  constructor(ks: Keyspace, lessor: Lessor, withUndo: boolean) {
    this.ks = ks;
    this.lessor = lessor;
    this.rev = ks.revision + 1;
    this.undo = withUndo ? [] : undefined;
  }

  /** The revision a read sees now: the new one once this command has written. */
  get visibleRevision(): number {
    return this.changes.length > 0 ? this.rev : this.ks.revision;
  }

  /**
   * Write the new newest record of `key` (version 0 = tombstone); `head` must be
   * `ks.head(key)`, read just before. Returns the live record it replaced (immutable), or
   * undefined when the key was absent or deleted.
   */
  write(key: string, head: Revision | undefined, value: Uint8Array, createRevision: number, version: number, lease: number): Revision | undefined {
    const rec = this.ks.writeHead(key, head, value, createRevision, this.rev, version, lease);
    const old = rec.prev;
    this.undo?.push({ key, old });
    const prev = old !== undefined && old.version > 0 ? old : undefined;
    this.lessor.move(key, prev === undefined ? 0 : prev.lease, version > 0 ? lease : 0);
    this.changes.push({ key, rec, prev });
    return prev;
  }

  /**
   * Delete `key` (a tombstone at this revision); returns the live record it replaced. A delete
   * made by the end of a lease (`endedLease`, the revoke of an expired or revoked lease) keeps
   * that lease's id on the tombstone — the one mark in history that tells it from a delete
   * request (etcd v2's watchers see it as `expire`).
   */
  remove(key: string, endedLease = 0): Revision | undefined {
    return this.write(key, this.ks.head(key), EMPTY_VALUE, 0, 0, endedLease);
  }

  /** Undo every write, newest first (transaction failed). */
  rollback(): void {
    const undo = this.undo;
    if (undo === undefined) return;
    for (let i = undo.length - 1; i >= 0; i--) {
      const u = undo[i] as UndoRecord;
      const cur = this.ks.head(u.key);
      const from = cur !== undefined && cur.version > 0 ? cur.lease : 0;
      this.ks.restoreHead(u.key, u.old);
      const to = u.old !== undefined && u.old.version > 0 ? u.old.lease : 0;
      this.lessor.move(u.key, from, to);
    }
    undo.length = 0;
    this.changes.length = 0;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Put/delete preconditions; see `Expectation` in types.ts. */
export function checkExpectation(key: string, expect: Expectation | undefined, cur: Revision | undefined): void {
  if (expect === undefined) return;
  if (expect === 'absent') {
    if (cur !== undefined) throw new KeyExistsError(key);
    return;
  }
  if (expect === 'present') {
    if (cur === undefined) throw new KeyNotFoundError(key);
    return;
  }
  if ('value' in expect) {
    if (cur === undefined) throw new KeyNotFoundError(key);
    if (!bytesEqual(cur.value, expect.value)) throw new ConflictError(key, 'value differs');
    return;
  }
  const [field, want] = 'modRevision' in expect ? (['modRevision', expect.modRevision] as const) : (['version', expect.version] as const);
  const have = cur === undefined ? 0 : cur[field];
  if (want !== 0 && cur === undefined) throw new KeyNotFoundError(key);
  if (have !== want) throw new ConflictError(key, `${field} is ${have}, expected ${want}`);
}

export function doPut(w: Writer, req: PutRequest): StoredPutResult {
  const key = req.key; // ks.head() flattens it (see flatKey) before anything keeps it.
  const head = w.ks.head(key);
  const cur = head !== undefined && head.version > 0 ? head : undefined;
  checkExpectation(key, req.expect, cur);
  if ((req.ignoreValue === true || req.ignoreLease === true) && cur === undefined) throw new KeyNotFoundError(key);
  const lease = req.ignoreLease === true ? (cur as Revision).lease : (req.lease ?? 0);
  if (lease !== 0 && !w.lessor.has(lease)) throw new LeaseNotFoundError(lease);
  const value = req.ignoreValue === true ? (cur as Revision).value : req.value;
  // write() returns the live record it replaced (`cur`, when there was one).
  const prev = cur === undefined ? w.write(key, head, value, w.rev, 1, lease) : w.write(key, head, value, cur.createRevision, cur.version + 1, lease);
  if (req.prevKv === true && prev !== undefined) return { revision: w.rev, prevKv: toKeyValue(key, prev) };
  return { revision: w.rev };
}

export function doDelete(w: Writer, req: DeleteRequest): StoredDeleteResult {
  const range = req.range;
  if (req.expect !== undefined && 'key' in range) checkExpectation(range.key, req.expect, w.ks.live(range.key));
  const victims: string[] = [];
  forEachLive(w.ks, range, 0, (key) => victims.push(key));
  const prevKvs: StoredKeyValue[] | undefined = req.prevKv === true ? [] : undefined;
  for (const key of victims) {
    const prev = w.remove(key) as Revision;
    prevKvs?.push(toKeyValue(key, prev));
  }
  const revision = w.visibleRevision;
  return prevKvs === undefined ? { revision, deleted: victims.length } : { revision, deleted: victims.length, prevKvs };
}

function compareHolds(c: Compare, value: Uint8Array, n: number): boolean {
  let d: number;
  if (c.target === 'value') {
    if (!(c.value instanceof Uint8Array)) return false;
    const a = value;
    const b = c.value;
    d = 0;
    const len = Math.min(a.length, b.length);
    for (let i = 0; i < len && d === 0; i++) d = (a[i] as number) - (b[i] as number);
    if (d === 0) d = a.length - b.length;
  } else {
    if (typeof c.value !== 'number') return false;
    d = n - c.value;
  }
  switch (c.op) {
    case '==':
      return d === 0;
    case '!=':
      return d !== 0;
    case '<':
      return d < 0;
    case '>':
      return d > 0;
  }
}

function numericTarget(c: Compare, rec: Revision | undefined): number {
  if (rec === undefined) return 0;
  switch (c.target) {
    case 'version':
      return rec.version;
    case 'createRevision':
      return rec.createRevision;
    case 'modRevision':
      return rec.modRevision;
    case 'lease':
      return rec.lease;
    case 'value':
      return 0;
  }
}

/** etcd: holds iff it holds for every key in the range; an empty range compares as a zero kv (value compares fail). */
export function evaluateCompare(ks: Keyspace, c: Compare): boolean {
  let seen = false;
  let holds = true;
  forEachLive(ks, c.range, 0, (_key, rec) => {
    seen = true;
    if (holds && !compareHolds(c, rec.value, numericTarget(c, rec))) holds = false;
  });
  if (seen) return holds;
  if (c.target === 'value') return false;
  return compareHolds(c, rec0Value, 0);
}

const rec0Value = new Uint8Array(0);

export function doTxn(w: Writer, req: TxnRequest): StoredTxnResult {
  let succeeded = true;
  for (const c of req.compare) {
    if (!evaluateCompare(w.ks, c)) {
      succeeded = false;
      break;
    }
  }
  const ops = succeeded ? req.success : req.failure;
  const results: TxnOpResult[] = [];
  for (const op of ops) results.push(doOp(w, op));
  return { succeeded, revision: w.visibleRevision, results };
}

function doOp(w: Writer, op: TxnOp): TxnOpResult {
  switch (op.type) {
    case 'put':
      return { type: 'put', result: doPut(w, op.request) };
    case 'delete':
      return { type: 'delete', result: doDelete(w, op.request) };
    case 'range':
      return { type: 'range', result: rangeQuery(w.ks, op.range, op.options, w.visibleRevision) };
    case 'txn':
      return { type: 'txn', result: doTxn(w, op.request) };
  }
}
