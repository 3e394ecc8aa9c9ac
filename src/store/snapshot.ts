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
 * sets are rebuilt from the live records' lease field. Decoding (whole or in slices) is
 * snapshot-reader.ts.
 */
import { CompactedError, FutureRevisionError, InvalidArgumentError } from '../errors.ts';
import { packr } from './codec.ts';
import { hashKv } from './hash-kv.ts';
import type { Revision } from './key-index.ts';
import type { Lessor } from './lessor.ts';
import { forRetained } from './mvcc.ts';
import type { Keyspace, LogEntry } from './mvcc.ts';
import type { OrderedMap } from './ordered-map.ts';
import { SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SnapshotReader } from './snapshot-reader.ts';
import type { SnapshotView } from './snapshot-view.ts';

export { SNAPSHOT_MAGIC, SNAPSHOT_VERSION };

/** Options of {@link StoreSnapshot.encodeAsync} and `Store.restoreAsync`. */
export interface SliceOptions {
  /** Array slots (keys, history fields, values) encoded or decoded per slice before yielding to the event loop. @default 50000 */
  readonly yieldEvery?: number;
  /** Longest a slice may run before yielding, in ms (checked between key histories when encoding, every 512 slots when decoding). @default 8 */
  readonly sliceMs?: number;
  /** Aborts the work: the promise rejects with the signal's reason at the next slice boundary. */
  readonly signal?: AbortSignal;
}
export type EncodeAsyncOptions = SliceOptions;
export type RestoreAsyncOptions = SliceOptions;

export interface StoreSnapshot {
  readonly revision: number;
  /** The captured state itself, for exporters of other formats (snapshot-view.ts). */
  readonly view: SnapshotView;
  /** The whole view in one synchronous call (blocks the event loop for O(keys)). */
  encode(): Uint8Array;
  /**
   * Exactly the bytes of `encode()`, produced in slices that yield to the event loop
   * (setImmediate) between them, so timers and I/O keep running on large stores.
   */
  encodeAsync(options?: EncodeAsyncOptions): Promise<Uint8Array>;
  /**
   * The bytes of `encode()` as consecutive pieces (their concatenation is those bytes), produced
   * in slices like `encodeAsync`: for a caller that wraps them (the node's snapshot envelope) and
   * joins everything once, in slices too ({@link concatAsync}), instead of copying them twice.
   */
  encodeParts(options?: EncodeAsyncOptions): Promise<Uint8Array[]>;
  /**
   * etcd's HashKV of this view at `revision` (by default the view's own), in slices that yield
   * to the event loop (hash-kv.ts). CompactedError below the view's compact revision,
   * FutureRevisionError past its revision.
   */
  hashKv(revision?: number, options?: EncodeAsyncOptions): Promise<{ readonly hash: number; readonly revision: number; readonly compactRevision: number }>;
}

/**
 * Default slots per slice of {@link StoreSnapshot.encodeAsync}: packing 8,192 slots (≈ 1,300
 * keys' fields and values) takes 1–3 ms, so a slice stays near its time budget even though the
 * budget is checked before packing.
 */
export const ENCODE_YIELD_EVERY = 8_192;
/** Default time budget per slice of {@link StoreSnapshot.encodeAsync}, in ms. */
export const ENCODE_SLICE_MS = 8;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function sliceOptions(options: SliceOptions): { yieldEvery: number; sliceMs: number; signal: AbortSignal | undefined } {
  const yieldEvery = options.yieldEvery ?? ENCODE_YIELD_EVERY;
  const sliceMs = options.sliceMs ?? ENCODE_SLICE_MS;
  if (!Number.isSafeInteger(yieldEvery) || yieldEvery < 1) throw new InvalidArgumentError(`mvcc: yieldEvery must be a positive integer, got ${yieldEvery}`);
  if (!(sliceMs > 0)) throw new InvalidArgumentError(`mvcc: sliceMs must be positive, got ${sliceMs}`);
  return { yieldEvery, sliceMs, signal: options.signal };
}

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

/** Bytes copied per slice by {@link concatAsync}: ≈ 1–2 ms of memcpy. */
export const CONCAT_SLICE_BYTES = 4 * 1024 * 1024;

/**
 * `parts` joined into one array, copied in slices of {@link CONCAT_SLICE_BYTES} with the event
 * loop turning in between: at 1M keys a snapshot is ≈ 150 MB, a ≈ 60 ms copy in one go.
 */
export async function concatAsync(parts: readonly Uint8Array[], signal?: AbortSignal): Promise<Uint8Array> {
  let total = 0;
  for (const p of parts) total += p.length;
  // Not zero-filled: every byte is written below before anyone can read the result.
  const out = Buffer.allocUnsafeSlow(total);
  let o = 0;
  let sliceBytes = 0;
  for (const p of parts) {
    for (let from = 0; from < p.length; ) {
      const n = Math.min(p.length - from, CONCAT_SLICE_BYTES - sliceBytes);
      out.set(from === 0 && n === p.length ? p : p.subarray(from, from + n), o);
      o += n;
      from += n;
      sliceBytes += n;
      if (sliceBytes >= CONCAT_SLICE_BYTES) {
        await yieldToLoop();
        signal?.throwIfAborted();
        sliceBytes = 0;
      }
    }
  }
  return out;
}

/**
 * One key's entry of the kvs section: key, record count, then each record's fields, newest
 * first — the records compaction at `compact` keeps (mvcc.ts forRetained), whether or not the
 * compaction has freed the others yet; nothing for a key it removes.
 */
function pushHistory(out: unknown[], key: string, head: Revision, compact: number): void {
  const n = forRetained(head, compact);
  if (n === 0) return;
  out.push(key, n);
  forRetained(head, compact, (r) => out.push(r.modRevision, r.createRevision, r.version, r.lease, r.value));
}

/**
 * Collects array elements and packs them in slices: once `yieldEvery` slots (or their weight)
 * are pending or `sliceMs` has passed, the pending elements are packed and the event loop gets a
 * turn before the next slice.
 */
class Slicer {
  pending: unknown[] = [];
  #chunks: Uint8Array[] = [];
  #slots = 0;
  #weight = 0;
  #started = performance.now();
  readonly #yieldEvery: number;
  readonly #sliceMs: number;
  readonly #signal: AbortSignal | undefined;

  constructor(yieldEvery: number, sliceMs: number, signal: AbortSignal | undefined) {
    this.#yieldEvery = yieldEvery;
    this.#sliceMs = sliceMs;
    this.#signal = signal;
  }

  /** Packs the pending elements and yields when the slice is full; `weight` counts nested slots. */
  async maybeFlush(weight = 0): Promise<void> {
    this.#weight += weight;
    if (this.pending.length + this.#weight < this.#yieldEvery && performance.now() - this.#started < this.#sliceMs) return;
    this.#pack();
    await yieldToLoop();
    this.#signal?.throwIfAborted();
    this.#started = performance.now();
  }

  /** The packed elements of one array (and their count); the slicer starts the next array. */
  finish(): { chunks: Uint8Array[]; slots: number } {
    this.#pack();
    const done = { chunks: this.#chunks, slots: this.#slots };
    this.#chunks = [];
    this.#slots = 0;
    return done;
  }

  #pack(): void {
    this.#weight = 0;
    if (this.pending.length === 0) return;
    this.#slots += this.pending.length;
    this.#chunks.push(packElements(this.pending));
    this.pending = [];
  }
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
  const encodeParts = async (options: EncodeAsyncOptions = {}): Promise<Uint8Array[]> => {
    const { yieldEvery, sliceMs, signal } = sliceOptions(options);
    signal?.throwIfAborted();
    // Element encodings are independent (no records, no shared structures), so an array's header
    // followed by the element encodings of its slices equals the one-shot bytes.
    const slicer = new Slicer(yieldEvery, sliceMs, signal);
    for (const [key, head] of tree.entries()) {
      pushHistory(slicer.pending, key, head, compactRevision);
      await slicer.maybeFlush();
    }
    const kvs = slicer.finish();
    // The multi-key revisions: after a bulk load of txns every revision is one, and this section
    // lists every key again, so it is sliced like the histories.
    for (let i = 0; i < logLength; i++) {
      const e = log[i] as LogEntry;
      if (typeof e === 'string') continue;
      slicer.pending.push(logBase + i, e);
      await slicer.maybeFlush(e.length);
    }
    const multi = slicer.finish();
    // The header up to the kvs section: the 7-array header plus the first five elements.
    const front = packElements([SNAPSHOT_MAGIC, SNAPSHOT_VERSION, revision, compactRevision, leases]);
    return [Uint8Array.of(0x97), front, arrayHeader(kvs.slots), ...kvs.chunks, arrayHeader(multi.slots), ...multi.chunks];
  };
  const view: SnapshotView = {
    revision,
    compactRevision,
    leases,
    *heads() {
      for (const [key, head] of tree.entries()) yield [key, head] as const;
    },
    logAt: (rev) => (rev > compactRevision && rev <= revision ? log[rev - logBase] : undefined),
  };
  return {
    revision,
    view,
    encodeParts,
    async encodeAsync(options: EncodeAsyncOptions = {}): Promise<Uint8Array> {
      return concatAsync(await encodeParts(options), options.signal);
    },
    async hashKv(at?: number, options: EncodeAsyncOptions = {}) {
      const { sliceMs, signal } = sliceOptions(options);
      const rev = at ?? revision;
      if (!Number.isSafeInteger(rev) || rev < 0) throw new InvalidArgumentError(`mvcc: hash revision must be a non-negative integer, got ${rev}`);
      if (rev > revision) throw new FutureRevisionError(rev, revision);
      if (rev < compactRevision) throw new CompactedError(rev, compactRevision);
      signal?.throwIfAborted();
      const hash = await hashKv(tree, rev, compactRevision, { sliceMs, signal, yieldToLoop });
      return { hash, revision: rev, compactRevision };
    },
    encode(): Uint8Array {
      const kvs: unknown[] = [];
      for (const [key, head] of tree.entries()) pushHistory(kvs, key, head, compactRevision);
      const multi = multiSection();
      return packr.pack([SNAPSHOT_MAGIC, SNAPSHOT_VERSION, revision, compactRevision, leases, kvs, multi]);
    },
  };
}

/** A store holding exactly what `bytes` (from `encode()`) captured, in one synchronous pass. */
export function restore(bytes: Uint8Array): { ks: Keyspace; lessor: Lessor } {
  const reader = new SnapshotReader(bytes);
  reader.step(Infinity);
  return reader.result();
}

/**
 * The same state as `restore(bytes)`, decoded in slices with the event loop turning in between
 * (setImmediate), so a large snapshot does not stall timers and I/O.
 */
export async function restoreAsync(bytes: Uint8Array, options: RestoreAsyncOptions = {}): Promise<{ ks: Keyspace; lessor: Lessor }> {
  const { yieldEvery, sliceMs, signal } = sliceOptions(options);
  signal?.throwIfAborted();
  const reader = new SnapshotReader(bytes);
  for (;;) {
    reader.step(yieldEvery, performance.now() + sliceMs);
    if (reader.done) return reader.result();
    await yieldToLoop();
    signal?.throwIfAborted();
  }
}
