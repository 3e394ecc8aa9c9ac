/**
 * One key's history: a newest-first chain of immutable records. A tombstone (version 0) marks a
 * delete. The B-tree and the hash index both map the key to its newest record; a put sets both
 * (the B-tree's copy-on-write keeps any snapshot's clone as it was, see Keyspace.writeHead).
 * Because no record ever changes, a point read hands out the record itself (`Store.get`): no
 * allocation per read, which at 1M keys is a fifth of a get.
 */
import type { StoredKeyValue } from './types.ts';

export const EMPTY_VALUE: Uint8Array = new Uint8Array(0);

/** Written by flatKey so the engine cannot drop the read that flattens (see there). */
let flattenSink = 0;

/**
 * `key`, flattened. V8 builds a concatenation (`prefix + id`, template literals) as a rope: a
 * tree of string pieces, about three times the bytes of the flat string (a 32-char key built by
 * a typical template: ~230 B instead of 48 B). A string comparison flattens its operands, but a
 * Map lookup does not: it walks the rope piece by piece on every probe. Reading one character
 * makes V8 flatten the rope in place (the garbage collector then drops the pieces), so the
 * store flattens every key it keeps or searches with. Keys decoded from the wire are flat
 * already; for them this costs one character read.
 */
export function flatKey(key: string): string {
  flattenSink ^= key.charCodeAt(0) | 0;
  return key;
}

/**
 * One record, immutable once its chain is built: it is the store's own object, handed out by
 * point reads, so whoever receives one must not write to it (or to its value's bytes). Its value
 * lives in a holder (an arena slab, or a large value's own buffer: value-arena.ts) at an offset,
 * and `value` makes the view when it is read: no view object per record in the heap. `value` and
 * `prev` are getters over private fields, so a record reads as a plain key-value; code that
 * copies records field by field (never by spreading or serializing) sees all of it.
 */
export class Revision implements StoredKeyValue {
  readonly key: string;
  /** 0 for a tombstone. */
  readonly createRevision: number;
  readonly modRevision: number;
  /** 0 for a tombstone, else 1 on creation, +1 per put. */
  readonly version: number;
  readonly lease: number;
  readonly #holder: Uint8Array;
  readonly #at: number;
  readonly #length: number;
  #prev: Revision | undefined;
  constructor(key: string, holder: Uint8Array, at: number, length: number, createRevision: number, modRevision: number, version: number, lease: number, prev: Revision | undefined) {
    this.key = key;
    this.createRevision = createRevision;
    this.modRevision = modRevision;
    this.version = version;
    this.lease = lease;
    this.#holder = holder;
    this.#at = at;
    this.#length = length;
    this.#prev = prev;
  }

  /** The value's bytes: a view into the holder (the holder itself when the value fills it). */
  get value(): Uint8Array {
    const h = this.#holder;
    if (this.#length === h.byteLength) return h;
    // Not `subarray`: it looks up the species constructor on every call.
    return new Uint8Array(h.buffer, h.byteOffset + this.#at, this.#length);
  }

  /** The value's length, without making a view. */
  get valueLength(): number {
    return this.#length;
  }

  /** The next older revision of the same key, or undefined once compacted away. */
  get prev(): Revision | undefined {
    return this.#prev;
  }

  /** The same record in a new chain (compaction): the value's bytes are shared, not copied. */
  relinked(prev: Revision | undefined): Revision {
    return new Revision(this.key, this.#holder, this.#at, this.#length, this.createRevision, this.modRevision, this.version, this.lease, prev);
  }

  /** Tells `arena` that this record's value bytes are dropped (compaction, rollback). */
  releaseValue(arena: { release(holder: Uint8Array, length: number): void }): void {
    arena.release(this.#holder, this.#length);
  }

  /** Restore only: links the next older record while a chain is built, before anyone can read it. */
  linkOlder(older: Revision): void {
    this.#prev = older;
  }
}

/** The newest record at or below `rev`, or undefined. */
export function revisionAt(head: Revision | undefined, rev: number): Revision | undefined {
  let rec = head;
  while (rec !== undefined && rec.modRevision > rev) rec = rec.prev;
  return rec;
}

/** The live record at `rev`, or undefined when the key was absent (never created, or deleted). */
export function liveAt(head: Revision | undefined, rev: number): Revision | undefined {
  const rec = revisionAt(head, rev);
  return rec !== undefined && rec.version > 0 ? rec : undefined;
}

/** The record written exactly at `rev` (watch replay); undefined if there is none. */
export function revisionExactly(head: Revision | undefined, rev: number): Revision | undefined {
  const rec = revisionAt(head, rev);
  return rec !== undefined && rec.modRevision === rev ? rec : undefined;
}

export function toKeyValue(key: string, rec: Revision, keysOnly = false): StoredKeyValue {
  return {
    key,
    value: keysOnly ? EMPTY_VALUE : rec.value,
    createRevision: rec.createRevision,
    modRevision: rec.modRevision,
    version: rec.version,
    lease: rec.lease,
  };
}
