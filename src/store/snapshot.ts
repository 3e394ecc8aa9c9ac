/**
 * Store snapshots. `capture()` is O(1) in the number of keys (a copy-on-write B-tree clone plus a
 * reference to the append-only revision log), so apply is not blocked; `encode()` walks the
 * captured view later. Format (msgpackr, one array, version 1):
 *
 *   ['quorumkv/store', 1, revision, compactRevision,
 *    leases: [id, ttlMs, ...] by id,
 *    kvs: [key, n, (modRevision, createRevision, version, lease, value) × n newest first, ...] by key,
 *    multi: [revision, [keys in op order], ...] for revisions that wrote more than one key]
 *
 * Single-key revisions of the watch log are rebuilt from the histories on restore; lease key
 * sets are rebuilt from the live records' lease field.
 */
import { InvalidArgumentError } from '../errors.ts';
import { packr } from './codec.ts';
import { Revision, revisionExactly } from './key-index.ts';
import { Lessor } from './lessor.ts';
import { Keyspace } from './mvcc.ts';
import type { LogEntry } from './mvcc.ts';
import type { OrderedMap } from './ordered-map.ts';

export const SNAPSHOT_MAGIC = 'quorumkv/store';
export const SNAPSHOT_VERSION = 1;

/** Options of {@link StoreSnapshot.encodeAsync}. */
export interface EncodeAsyncOptions {
  /** Records (array slots) packed per slice before yielding to the event loop. @default 50000 */
  readonly yieldEvery?: number;
  /** Longest a slice may run before yielding, in ms (checked between key histories). @default 8 */
  readonly sliceMs?: number;
  /** Aborts the encode: the promise rejects with the signal's reason at the next slice boundary. */
  readonly signal?: AbortSignal;
}

export interface StoreSnapshot {
  readonly revision: number;
  /** The whole view in one synchronous call (blocks the event loop for O(keys)). */
  encode(): Uint8Array;
  /**
   * Exactly the bytes of `encode()`, produced in slices that yield to the event loop
   * (setImmediate) between them, so timers and I/O keep running on large stores.
   */
  encodeAsync(options?: EncodeAsyncOptions): Promise<Uint8Array>;
}

/** Default slots per slice of {@link StoreSnapshot.encodeAsync}. */
export const ENCODE_YIELD_EVERY = 50_000;
/** Default time budget per slice of {@link StoreSnapshot.encodeAsync}, in ms. */
export const ENCODE_SLICE_MS = 8;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The msgpack array header for `n` elements (fixarray, array 16 or array 32), as msgpackr writes it. */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >>> 8, n & 0xff);
  return Uint8Array.of(0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** Packs `items` as an array and drops its header: the concatenated element encodings (copied). */
function packElements(items: unknown[]): Uint8Array {
  const packed = packr.pack(items);
  return packed.slice(arrayHeader(items.length).length);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function capture(ks: Keyspace, lessor: Lessor): StoreSnapshot {
  const tree: OrderedMap<Revision> = ks.cloneTree();
  const revision = ks.revision;
  const compactRevision = ks.compactRevision;
  const leases = lessor.table();
  const log = ks.log;
  const logBase = ks.logBase;
  const logLength = ks.log.length;
  const multiSection = (): unknown[] => {
    const multi: unknown[] = [];
    for (let i = 0; i < logLength; i++) {
      const e = log[i] as LogEntry;
      if (typeof e !== 'string') multi.push(logBase + i, e);
    }
    return multi;
  };
  return {
    revision,
    async encodeAsync(options: EncodeAsyncOptions = {}): Promise<Uint8Array> {
      const yieldEvery = options.yieldEvery ?? ENCODE_YIELD_EVERY;
      const sliceMs = options.sliceMs ?? ENCODE_SLICE_MS;
      if (!Number.isSafeInteger(yieldEvery) || yieldEvery < 1) throw new InvalidArgumentError(`mvcc: yieldEvery must be a positive integer, got ${yieldEvery}`);
      if (!(sliceMs > 0)) throw new InvalidArgumentError(`mvcc: sliceMs must be positive, got ${sliceMs}`);
      const signal = options.signal;
      signal?.throwIfAborted();
      // Element encodings are independent (no records, no shared structures), so the header of
      // the kvs array followed by the element encodings of its slices equals the one-shot bytes.
      const chunks: Uint8Array[] = [];
      let slots = 0;
      let pending: unknown[] = [];
      let started = performance.now();
      for (const [key, head] of tree.entries()) {
        let n = 0;
        for (let r: Revision | undefined = head; r !== undefined; r = r.prev) n++;
        pending.push(key, n);
        for (let r: Revision | undefined = head; r !== undefined; r = r.prev) pending.push(r.modRevision, r.createRevision, r.version, r.lease, r.value);
        if (pending.length >= yieldEvery || performance.now() - started >= sliceMs) {
          slots += pending.length;
          chunks.push(packElements(pending));
          pending = [];
          await yieldToLoop();
          signal?.throwIfAborted();
          started = performance.now();
        }
      }
      if (pending.length > 0) {
        slots += pending.length;
        chunks.push(packElements(pending));
      }
      const multi = multiSection();
      // The header up to the kvs section: the 7-array header plus the first five elements.
      const front = packElements([SNAPSHOT_MAGIC, SNAPSHOT_VERSION, revision, compactRevision, leases]);
      const tail = packElements([multi]);
      return concat([Uint8Array.of(0x97), front, arrayHeader(slots), ...chunks, tail]);
    },
    encode(): Uint8Array {
      const kvs: unknown[] = [];
      for (const [key, head] of tree.entries()) {
        let n = 0;
        for (let r: Revision | undefined = head; r !== undefined; r = r.prev) n++;
        kvs.push(key, n);
        for (let r: Revision | undefined = head; r !== undefined; r = r.prev) kvs.push(r.modRevision, r.createRevision, r.version, r.lease, r.value);
      }
      const multi = multiSection();
      return packr.pack([SNAPSHOT_MAGIC, SNAPSHOT_VERSION, revision, compactRevision, leases, kvs, multi]);
    },
  };
}

const corrupt = (what: string): InvalidArgumentError => new InvalidArgumentError(`mvcc: invalid snapshot: ${what}`);

function nat(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw corrupt(what);
  return x;
}

export function restore(bytes: Uint8Array): { ks: Keyspace; lessor: Lessor } {
  let top: unknown;
  try {
    top = packr.unpack(bytes);
  } catch (err) {
    throw new InvalidArgumentError('mvcc: snapshot bytes do not decode', { cause: err });
  }
  if (!Array.isArray(top) || top.length !== 7 || top[0] !== SNAPSHOT_MAGIC) throw corrupt('not a store snapshot');
  if (top[1] !== SNAPSHOT_VERSION) throw corrupt(`unsupported version ${String(top[1])}`);
  const [, , revisionRaw, compactRaw, leases, kvs, multi] = top as unknown[];
  const revision = nat(revisionRaw, 'revision');
  const compactRevision = nat(compactRaw, 'compactRevision');
  if (compactRevision > revision) throw corrupt('compactRevision above revision');
  if (!Array.isArray(leases) || !Array.isArray(kvs) || !Array.isArray(multi)) throw corrupt('sections');
  if (leases.length % 2 !== 0 || multi.length % 2 !== 0) throw corrupt('section lengths');
  // Every revision since the compaction point wrote at least one record (5 array slots each).
  if (revision - compactRevision > kvs.length / 5) throw corrupt('revision log longer than the history');
  const lessor = new Lessor();
  for (let i = 0; i < leases.length; i += 2) lessor.grant(nat(leases[i], 'lease id'), nat(leases[i + 1], 'lease ttl'));
  const ks = new Keyspace();
  ks.revision = revision;
  ks.compactRevision = compactRevision;
  ks.logBase = compactRevision + 1;
  const log = new Array<LogEntry | undefined>(revision - compactRevision).fill(undefined);
  const multiRevs = new Set<number>();
  for (let i = 0; i < multi.length; i += 2) multiRevs.add(nat(multi[i], 'multi revision'));
  readKeys(kvs, ks, lessor, log, multiRevs);
  for (let j = 0; j < multi.length; j += 2) {
    const rev = multi[j] as number;
    const keys = multi[j + 1];
    if (rev <= compactRevision || rev > revision || !Array.isArray(keys) || keys.length < 2) throw corrupt('multi entry');
    for (const k of keys as unknown[]) {
      if (typeof k !== 'string' || revisionExactly(ks.head(k), rev) === undefined) throw corrupt(`multi entry at ${rev}`);
    }
    log[rev - ks.logBase] = keys as string[];
  }
  for (const e of log) if (e === undefined) throw corrupt('revision log has a gap');
  ks.log = log as LogEntry[];
  return { ks, lessor };
}

/** The kvs section: per key its history, newest first; fills the tree, lease sets and single-key log slots. */
function readKeys(kvs: unknown[], ks: Keyspace, lessor: Lessor, log: (LogEntry | undefined)[], multiRevs: Set<number>): void {
  let prevKey: string | undefined;
  let i = 0;
  while (i < kvs.length) {
    const key = kvs[i];
    if (typeof key !== 'string' || key.length === 0 || (prevKey !== undefined && key <= prevKey)) throw corrupt('keys out of order');
    prevKey = key;
    const n = nat(kvs[i + 1], 'history length');
    if (n === 0 || i + 2 + n * 5 > kvs.length) throw corrupt('history length');
    // Build the chain oldest → newest so each record links to the one before it.
    let head: Revision | undefined;
    for (let j = n - 1; j >= 0; j--) {
      const o = i + 2 + j * 5;
      const value = kvs[o + 4];
      if (!(value instanceof Uint8Array)) throw corrupt('value');
      const mod = nat(kvs[o], 'modRevision');
      if (mod > ks.revision || (head !== undefined && mod <= head.modRevision)) throw corrupt('history order');
      // A plain Uint8Array view (the decoder hands out Buffers) so restored reads equal fresh ones.
      const plain = value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      head = new Revision(plain, nat(kvs[o + 1], 'createRevision'), mod, nat(kvs[o + 2], 'version'), nat(kvs[o + 3], 'lease'), head);
      if (mod > ks.compactRevision && !multiRevs.has(mod)) {
        if (log[mod - ks.logBase] !== undefined) throw corrupt(`revision ${mod} written twice`);
        log[mod - ks.logBase] = key;
      }
    }
    const h = head as Revision;
    ks.setHead(key, h);
    if (h.version > 0 && h.lease !== 0) {
      if (!lessor.has(h.lease)) throw corrupt(`key ${key} has unknown lease ${h.lease}`);
      lessor.move(key, 0, h.lease);
    }
    i += 2 + n * 5;
  }
}
