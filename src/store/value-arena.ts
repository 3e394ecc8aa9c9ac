/**
 * Where the keyspace keeps its values' bytes. A value decoded from a command or a snapshot comes
 * in its own ArrayBuffer, and for a 100-byte value that buffer costs more than the bytes: a heap
 * object, a view, and outside the heap a backing-store record and an allocation of its own
 * (≈ 300 B of process memory per value measured here, beyond the value's bytes). The arena copies
 * each small value into a shared slab; a record keeps the slab, an offset and a length, and makes
 * a view only when its value is read.
 *
 * A slab is freed by the garbage collector once nothing refers to it (no record holds it, no
 * reader holds a view into it). Values compacted away leave holes in slabs that still hold live values; the
 * arena counts the bytes it handed out and the bytes the keyspace reported dropped (`release`),
 * so `stats()` tells how much of the slabs is holes (etcd's "db size" against "db size in use").
 * A store rebuilt from a snapshot (a restart, a snapshot install, a restore) starts without holes.
 */
import { EMPTY_VALUE } from './key-index.ts';

/** Bytes per slab. Large enough that the slab's own overhead is nothing per value. */
export const SLAB_BYTES = 1 << 20;
/** Values longer than this keep a buffer of their own (their overhead is small beside them). */
export const MAX_PACKED_VALUE_BYTES = 16 * 1024;

export interface ArenaStats {
  /** Bytes of all slabs allocated and not yet known to be free (holes included). */
  readonly slabBytes: number;
  /** Bytes handed out to values that are still in the keyspace. */
  readonly liveBytes: number;
}

export class ValueArena {
  #slab: Uint8Array = EMPTY_VALUE;
  #used = 0;
  /** Where `keep` put the last value in the holder it returned. */
  #keptAt = 0;
  /** Per slab: bytes handed out and not yet released. A slab whose count reaches 0 is forgotten. */
  readonly #live = new WeakMap<Uint8Array, { bytes: number }>();
  /** The current slab's entry in #live. */
  #counter = { bytes: 0 };
  #slabBytes = 0;
  #liveBytes = 0;

  /**
   * Keeps `value`'s bytes and returns their holder: a slab, with the value at {@link keptAt}; a
   * large value is its own holder (at 0), copied when `value` is a view into a larger buffer (a
   * decoded command or snapshot), so the keyspace never holds on to a buffer beyond the bytes it
   * keeps. A record stores the holder, the offset and the length: no view object per value (at
   * 1M keys a view is 96 B of heap and one more object for every garbage collection to trace).
   */
  keep(value: Uint8Array): Uint8Array {
    const n = value.byteLength;
    this.#keptAt = 0;
    if (n === 0) return EMPTY_VALUE;
    if (n > MAX_PACKED_VALUE_BYTES) {
      if (value.byteOffset === 0 && n === value.buffer.byteLength) return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, 0, n);
      // Not `slice()`: on a Node Buffer it makes a view, not a copy.
      const own = new Uint8Array(n);
      own.set(value);
      return own;
    }
    if (this.#used + n > this.#slab.byteLength) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#used = 0;
      this.#counter = { bytes: 0 };
      this.#live.set(this.#slab, this.#counter);
      this.#slabBytes += SLAB_BYTES;
    }
    const at = this.#used;
    this.#slab.set(value, at);
    this.#used = at + n;
    this.#counter.bytes += n;
    this.#liveBytes += n;
    this.#keptAt = at;
    return this.#slab;
  }

  /** The offset of the last value `keep` kept, inside the holder it returned. */
  get keptAt(): number {
    return this.#keptAt;
  }

  /** The keyspace dropped `length` bytes that `keep` put in `holder` (compaction): a hole now. */
  release(holder: Uint8Array, length: number): void {
    const counter = this.#live.get(holder);
    if (counter === undefined) return;
    counter.bytes -= length;
    this.#liveBytes -= length;
    if (counter.bytes === 0 && holder !== this.#slab) {
      this.#live.delete(holder);
      this.#slabBytes -= SLAB_BYTES;
    }
  }

  stats(): ArenaStats {
    return { slabBytes: this.#slabBytes, liveBytes: this.#liveBytes };
  }
}
