/**
 * One key's history: a newest-first chain of revisions. A tombstone (version 0) marks a delete.
 * History records (everything behind the head) are never mutated, so a B-tree clone taken for a
 * snapshot keeps seeing exactly the history it captured; compaction copies the part of a chain it
 * keeps. The head record is the one exception: while no snapshot can hold it (it was written
 * after the last snapshot was taken) an overwrite rewrites it in place (see Keyspace.writeHead), so a put
 * costs one hash lookup and no B-tree descent, and a read one hash lookup and no extra hop.
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
 * One record. Fields are written only by Keyspace (heads written since the last snapshot); everyone
 * else treats a record as read-only and must not keep a head record across a write of its key
 * (Keyspace.writeHead returns the immutable copy of what it replaced for that).
 */
export class Revision {
  value: Uint8Array;
  /** 0 for a tombstone. */
  createRevision: number;
  modRevision: number;
  /** 0 for a tombstone, else 1 on creation, +1 per put. */
  version: number;
  lease: number;
  /** The next older revision of the same key, or undefined once compacted away. */
  prev: Revision | undefined;
  constructor(value: Uint8Array, createRevision: number, modRevision: number, version: number, lease: number, prev: Revision | undefined) {
    this.value = value;
    this.createRevision = createRevision;
    this.modRevision = modRevision;
    this.version = version;
    this.lease = lease;
    this.prev = prev;
  }

  get live(): boolean {
    return this.version > 0;
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
