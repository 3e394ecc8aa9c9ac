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
import { InvalidArgumentError } from '../errors.ts';
import { packr } from './codec.ts';
import type { KeySlot, Revision } from './key-index.ts';
import type { Lessor } from './lessor.ts';
import type { Keyspace, LogEntry } from './mvcc.ts';
import type { OrderedMap } from './ordered-map.ts';
import { SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SnapshotReader } from './snapshot-reader.ts';

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

/** One key's entry of the kvs section: key, record count, then each record's fields, newest first. */
function pushHistory(out: unknown[], key: string, head: Revision): void {
  let n = 0;
  for (let r: Revision | undefined = head; r !== undefined; r = r.prev) n++;
  out.push(key, n);
  for (let r: Revision | undefined = head; r !== undefined; r = r.prev) out.push(r.modRevision, r.createRevision, r.version, r.lease, r.value);
}

export function capture(ks: Keyspace, lessor: Lessor): StoreSnapshot {
  const tree: OrderedMap<KeySlot> = ks.cloneTree();
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
      const { yieldEvery, sliceMs, signal } = sliceOptions(options);
      signal?.throwIfAborted();
      // Element encodings are independent (no records, no shared structures), so the header of
      // the kvs array followed by the element encodings of its slices equals the one-shot bytes.
      const chunks: Uint8Array[] = [];
      let slots = 0;
      let pending: unknown[] = [];
      let started = performance.now();
      for (const [key, slot] of tree.entries()) {
        pushHistory(pending, key, slot.head);
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
      for (const [key, slot] of tree.entries()) pushHistory(kvs, key, slot.head);
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
