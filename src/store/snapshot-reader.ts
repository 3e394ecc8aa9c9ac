/**
 * Decoding a store snapshot (format in snapshot.ts) incrementally. The bytes are one msgpack
 * array, but its big sections (kvs, multi) are sequences of independent element encodings, so
 * the reader parses the array headers itself and hands msgpackr a bounded run of elements at a
 * time (`unpackMultiple`, stopped by the callback). Each element is applied to the keyspace as it
 * is decoded (a small state machine per key history), so nothing is buffered and a slice can end
 * anywhere, even inside one key's history. `Store.restore` runs one unbounded step, and
 * `Store.restoreAsync` many small ones with the event loop turning in between: both go through
 * this one code path, hence build identical stores and reject the same bytes.
 *
 * Every byte is checked: the top-level header must be the one `encode()` writes, every value
 * must have its type and range, key histories must be ordered, each revision since the compaction
 * point must be written by exactly one key or be listed with all of its keys in the multi section,
 * and the last section must end exactly at the last byte. Damage is an InvalidArgumentError.
 */
import { InvalidArgumentError } from '../errors.ts';
import { packr } from './codec.ts';
import { Revision } from './key-index.ts';
import { Lessor } from './lessor.ts';
import { Keyspace } from './mvcc.ts';
import { SortedLoader } from './ordered-map.ts';
import type { LogEntry } from './mvcc.ts';

export const SNAPSHOT_MAGIC = 'quorumkv/store';
export const SNAPSHOT_VERSION = 1;

/** Array slots per record of a key history: modRevision, createRevision, version, lease, value. */
const RECORD_SLOTS = 5;
/** The first byte `encode()` writes: a msgpack fixarray of 7 elements. */
const TOP_HEADER = 0x97;
/** How many decoded elements pass between two clock reads of a time-bounded step. */
const CLOCK_EVERY = 512;
/** Bytes the decoder is handed per run (grown for a single larger value); see decodeRun. */
const DECODE_WINDOW_BYTES = 64 * 1024;

const corrupt = (what: string): InvalidArgumentError => new InvalidArgumentError(`mvcc: invalid snapshot: ${what}`);

function nat(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw corrupt(what);
  return x;
}

/** A msgpack array header at `at`: its element count and its own length in bytes. */
function arrayHeaderAt(bytes: Uint8Array, at: number, what: string): { count: number; length: number } {
  const b = bytes[at];
  if (b === undefined) throw corrupt(`${what} missing`);
  if (b >= 0x90 && b <= 0x9f) return { count: b & 0x0f, length: 1 };
  if (b === 0xdc && at + 3 <= bytes.length) return { count: ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number), length: 3 };
  if (b === 0xdd && at + 5 <= bytes.length) {
    const count = (bytes[at + 1] as number) * 0x1000000 + (((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 8) | (bytes[at + 4] as number));
    return { count, length: 5 };
  }
  throw corrupt(`${what} is not an array`);
}

/**
 * Decodes consecutive msgpack values from byte `from`, calling `visit` with each; `visit`
 * returning false stops. Returns the byte offset after the last value visited (at least one).
 *
 * The decoder only sees a window of the bytes: msgpackr's native string extractor scans ahead
 * to the end of what it is given, so handing it the whole rest of a large snapshot on every
 * slice would cost O(size) per slice. A value cut by the window's end fails to decode (lengths
 * are in the headers, so a cut value never decodes as another one); the run then ends before
 * it, or, when it was the first value, is retried with a window twice as large. Only an error
 * with the window reaching the last byte is real damage.
 */
function decodeRun(bytes: Uint8Array, from: number, visit: (value: unknown) => boolean): number {
  if (from >= bytes.length) throw corrupt('truncated');
  let window = DECODE_WINDOW_BYTES;
  for (;;) {
    const stop = Math.min(bytes.length, from + window);
    let end = from;
    let visitFailed = false; // An error from visit is never a value cut by the window.
    try {
      packr.unpackMultiple(bytes.subarray(from, stop), (value: unknown, _start?: number, next?: number) => {
        end = from + (next as number);
        try {
          return visit(value);
        } catch (err) {
          visitFailed = true;
          throw err;
        }
      });
      return end;
    } catch (err) {
      if (visitFailed || err instanceof InvalidArgumentError) throw err;
      if (stop === bytes.length) throw new InvalidArgumentError('mvcc: snapshot bytes do not decode', { cause: err });
      if (end > from) return end;
      window *= 2;
    }
  }
}

type Phase = 'kvs' | 'multi' | 'done';
/** Where the next kvs element falls in the current key history. */
type Slot = 'key' | 'count' | 'modRevision' | 'createRevision' | 'version' | 'lease' | 'value';

export class SnapshotReader {
  readonly #bytes: Uint8Array;
  readonly ks = new Keyspace();
  readonly lessor = new Lessor();
  /** Byte offset of the next element to decode. */
  #pos = 0;
  #phase: Phase = 'kvs';
  /** Elements of the current section not decoded yet. */
  #left = 0;
  /**
   * log[rev - logBase]: the key that wrote rev, or undefined. A revision claimed by more than one
   * key collects its claimants in #shared and must be listed, with exactly them, in multi.
   */
  readonly #log: (LogEntry | undefined)[];
  readonly #shared = new Map<number, string[]>();
  /** The B-tree of the heads, built as the key histories come (in key order). */
  readonly #loader = new SortedLoader<Revision>();
  /** Slots of #log set so far: the log has no gap iff all are set at the end (no final scan). */
  #filled = 0;
  // The key history being read: its key, records still to come, the record fields so far.
  #slot: Slot = 'key';
  #key = '';
  #prevKey: string | undefined = undefined;
  #recordsLeft = 0;
  #head: Revision | undefined = undefined;
  #tail: Revision | undefined = undefined;
  #mod = 0;
  #create = 0;
  #version = 0;
  #lease = 0;
  /** multi: the revision of the entry whose key list comes next, or -1 when a revision comes next. */
  #multiRev = -1;

  /** Parses and checks the header, the scalars and the lease table (all small). */
  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) throw corrupt('not bytes');
    this.#bytes = bytes;
    if (bytes[0] !== TOP_HEADER) throw corrupt('not a store snapshot');
    const front: unknown[] = [];
    let pos = 1;
    // More than one run when the lease table is larger than the decoder window.
    while (front.length < 5) pos = decodeRun(bytes, pos, (v) => front.push(v) < 5);
    const [magic, version, revisionRaw, compactRaw, leases] = front;
    if (magic !== SNAPSHOT_MAGIC) throw corrupt('not a store snapshot');
    if (version !== SNAPSHOT_VERSION) throw corrupt(`unsupported version ${String(version)}`);
    const revision = nat(revisionRaw, 'revision');
    const compactRevision = nat(compactRaw, 'compactRevision');
    if (compactRevision > revision) throw corrupt('compactRevision above revision');
    if (!Array.isArray(leases) || leases.length % 2 !== 0) throw corrupt('lease table');
    for (let i = 0; i < leases.length; i += 2) {
      const id = nat(leases[i], 'lease id');
      if (this.lessor.has(id)) throw corrupt('lease listed twice');
      this.lessor.grant(id, nat(leases[i + 1], 'lease ttl'));
    }
    const kvs = arrayHeaderAt(bytes, pos, 'kvs section');
    pos += kvs.length;
    // Every element takes at least one byte, and every revision since the compaction point wrote
    // at least one record: both bound the allocations below by the size of the input.
    if (kvs.count > bytes.length - pos) throw corrupt('kvs section longer than the bytes');
    if (revision - compactRevision > kvs.count / RECORD_SLOTS) throw corrupt('revision log longer than the history');
    this.ks.revision = revision;
    this.ks.compactRevision = compactRevision;
    this.ks.logBase = compactRevision + 1;
    this.#log = new Array<LogEntry | undefined>(revision - compactRevision).fill(undefined);
    this.#pos = pos;
    this.#left = kvs.count;
    this.#enterMultiIfDone();
  }

  get done(): boolean {
    return this.#phase === 'done';
  }

  /**
   * Decode and apply at most `maxElements` elements, stopping early once `deadline`
   * (a performance.now() value) has passed. Call until `done`.
   */
  step(maxElements: number, deadline = Infinity): void {
    let budget = maxElements;
    let sinceClock = 0;
    while (this.#phase !== 'done' && budget > 0) {
      const phase = this.#phase;
      this.#pos = decodeRun(this.#bytes, this.#pos, (value) => {
        if (phase === 'kvs') this.#kvsElement(value);
        else this.#multiElement(value);
        this.#left--;
        budget--;
        if (++sinceClock >= CLOCK_EVERY) {
          sinceClock = 0;
          if (performance.now() >= deadline) budget = 0;
        }
        return this.#left > 0 && budget > 0;
      });
      if (this.#left === 0) {
        if (this.#phase === 'kvs') this.#enterMultiIfDone();
        else this.#finishMulti();
      }
    }
  }

  /** The restored state; only once `done`. */
  result(): { ks: Keyspace; lessor: Lessor } {
    if (this.#phase !== 'done') throw new Error('mvcc: assertion failed: snapshot read to the end');
    return { ks: this.ks, lessor: this.lessor };
  }

  #enterMultiIfDone(): void {
    if (this.#left > 0 || this.#phase !== 'kvs') return;
    if (this.#slot !== 'key') throw corrupt('history length');
    this.#phase = 'multi';
    const multi = arrayHeaderAt(this.#bytes, this.#pos, 'multi section');
    this.#pos += multi.length;
    if (multi.count % 2 !== 0) throw corrupt('section lengths');
    if (multi.count > this.#bytes.length - this.#pos) throw corrupt('multi section longer than the bytes');
    this.#left = multi.count;
    if (this.#left === 0) this.#finishMulti();
  }

  #finishMulti(): void {
    if (this.#pos !== this.#bytes.length) throw corrupt('bytes after the last section');
    if (this.#shared.size > 0) throw corrupt(`revision ${String(this.#shared.keys().next().value)} written twice`);
    if (this.#filled !== this.#log.length) throw corrupt('revision log has a gap');
    this.ks.log = this.#log as LogEntry[];
    this.ks.installTree(this.#loader.finish());
    this.#phase = 'done';
  }

  /** One kvs element: key, n, then n × (modRevision, createRevision, version, lease, value). */
  #kvsElement(v: unknown): void {
    switch (this.#slot) {
      case 'key':
        if (typeof v !== 'string' || v.length === 0 || (this.#prevKey !== undefined && v <= this.#prevKey)) throw corrupt('keys out of order');
        this.#key = v;
        this.#slot = 'count';
        return;
      case 'count': {
        const n = nat(v, 'history length');
        if (n === 0 || n * RECORD_SLOTS > this.#left - 1) throw corrupt('history length');
        this.#recordsLeft = n;
        this.#head = undefined;
        this.#tail = undefined;
        this.#slot = 'modRevision';
        return;
      }
      case 'modRevision': {
        const mod = nat(v, 'modRevision');
        // Newest first: each record is strictly older than the one before it.
        if (mod > this.ks.revision || (this.#tail !== undefined && mod >= this.#tail.modRevision)) throw corrupt('history order');
        this.#mod = mod;
        this.#slot = 'createRevision';
        return;
      }
      case 'createRevision':
        this.#create = nat(v, 'createRevision');
        this.#slot = 'version';
        return;
      case 'version':
        this.#version = nat(v, 'version');
        this.#slot = 'lease';
        return;
      case 'lease':
        this.#lease = nat(v, 'lease');
        this.#slot = 'value';
        return;
      case 'value':
        this.#record(v);
        return;
    }
  }

  #record(value: unknown): void {
    if (!(value instanceof Uint8Array)) throw corrupt('value');
    // Into the keyspace's arena: the decoded value is a view into the snapshot's bytes.
    const arena = this.ks.arena;
    const holder = arena.keep(value);
    const rec = new Revision(this.#key, holder, arena.keptAt, value.byteLength, this.#create, this.#mod, this.#version, this.#lease, undefined);
    if (this.#tail === undefined) this.#head = rec;
    else this.#tail.linkOlder(rec);
    this.#tail = rec;
    this.#claim(this.#mod);
    if (--this.#recordsLeft > 0) {
      this.#slot = 'modRevision';
      return;
    }
    const key = this.#key;
    const head = this.#head as Revision;
    // Keys come in ascending order (checked above): the B-tree is built bottom-up, not by inserts.
    this.ks.indexHead(head);
    this.#loader.add(key, head);
    if (head.version > 0 && head.lease !== 0) {
      if (!this.lessor.has(head.lease)) throw corrupt(`key ${key} has unknown lease ${head.lease}`);
      this.lessor.move(key, 0, head.lease);
    }
    this.#prevKey = key;
    this.#head = undefined;
    this.#tail = undefined;
    this.#slot = 'key';
  }

  /**
   * The current key wrote revision `mod` (history at or below the compaction point has no log
   * slot). A revision claimed by more than one key collects its claimants, in key order, under
   * #shared: the multi section must list exactly them, and the log then holds these strings,
   * the keyspace's own, rather than a second copy of every key of every transaction.
   */
  #claim(mod: number): void {
    if (mod <= this.ks.compactRevision) return;
    const i = mod - this.ks.logBase;
    const first = this.#log[i];
    if (first === undefined) {
      this.#log[i] = this.#key;
      this.#filled++;
      return;
    }
    const claimants = this.#shared.get(mod);
    if (claimants === undefined) this.#shared.set(mod, [first as string, this.#key]);
    else claimants.push(this.#key);
  }

  /** One multi element: a revision, then the keys it wrote in op order. */
  #multiElement(v: unknown): void {
    if (this.#multiRev < 0) {
      const rev = nat(v, 'multi revision');
      if (rev <= this.ks.compactRevision || rev > this.ks.revision) throw corrupt('multi entry');
      this.#multiRev = rev;
      return;
    }
    const rev = this.#multiRev;
    this.#multiRev = -1;
    const claimants = this.#shared.get(rev);
    if (!Array.isArray(v) || claimants === undefined || v.length !== claimants.length) throw corrupt(`multi entry at ${rev}`);
    this.#shared.delete(rev);
    this.#log[rev - this.ks.logBase] = inOpOrder(v as unknown[], claimants, rev);
  }
}

/**
 * The log entry of a revision whose keys the multi section lists as `listed` (op order): the
 * claimants' strings when the order is the same (a transaction over keys in order, the common
 * case), else the listed keys once they are checked to be exactly the claimants, each once.
 */
function inOpOrder(listed: readonly unknown[], claimants: readonly string[], rev: number): readonly string[] {
  let same = true;
  for (let j = 0; j < listed.length; j++) {
    const k = listed[j];
    if (typeof k !== 'string') throw corrupt(`multi entry at ${rev}`);
    if (k !== claimants[j]) same = false;
  }
  if (same) return claimants;
  const sorted = (listed as string[]).slice().sort();
  // Claimants come in key order, strictly ascending, so equal sorted lists mean no key twice.
  for (let j = 0; j < sorted.length; j++) if (sorted[j] !== claimants[j]) throw corrupt(`multi entry at ${rev}`);
  return listed as string[];
}
