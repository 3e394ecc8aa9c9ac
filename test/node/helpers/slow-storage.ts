// A Storage whose saves become durable late: each save() waits (in call order) for `delayMs()`
// and for the gate to be open, then hands the batch to an inner memoryStorage, whose state is the
// durable state (reads and crash() see only completed saves). Records which log index was
// durable when. Used by test/node/pipeline.test.ts. Not a test file.
import type { MemoryStorage } from '../../../src/storage/memory-storage.ts';
import { memoryStorage } from '../../../src/storage/memory-storage.ts';
import type { ConfState, Entry, HardState, LogIndex, Snapshot, Storage, SaveBatch } from '../../../src/storage/types.ts';

export class SlowStorage implements Storage {
  readonly inner: MemoryStorage;
  readonly #delayMs: () => number;
  #chain: Promise<void> = Promise.resolve();
  #gate: Promise<void> = Promise.resolve();
  #openGate: (() => void) | undefined;
  /** Saves started and not yet durable. */
  inFlight = 0;
  /** Highest entry index made durable by a completed save. */
  durableIndex = 0;

  constructor(delayMs: () => number = () => 0, inner: MemoryStorage = memoryStorage()) {
    this.inner = inner;
    this.#delayMs = delayMs;
  }

  /** Holds every later save until release() (saves already waiting are held too). */
  hold(): void {
    if (this.#openGate !== undefined) return;
    this.#gate = new Promise((resolve) => (this.#openGate = resolve));
  }

  release(): void {
    this.#openGate?.();
    this.#openGate = undefined;
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return this.inner.initialState();
  }
  firstIndex(): LogIndex {
    return this.inner.firstIndex();
  }
  lastIndex(): LogIndex {
    return this.inner.lastIndex();
  }
  term(index: LogIndex): number {
    return this.inner.term(index);
  }
  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[] {
    return this.inner.entries(lo, hi, maxBytes);
  }
  snapshot(): Snapshot {
    return this.inner.snapshot();
  }
  open(): Promise<void> {
    return this.inner.open();
  }

  save(batch: SaveBatch): Promise<void> {
    this.inFlight += 1;
    const ms = this.#delayMs();
    const run = async (): Promise<void> => {
      await this.#gate;
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      await this.inner.save(batch);
      const last = batch.entries[batch.entries.length - 1];
      if (last !== undefined) this.durableIndex = last.index;
      else if (batch.snapshot !== undefined) this.durableIndex = Math.max(this.durableIndex, batch.snapshot.meta.index);
    };
    const p = this.#chain.then(run);
    this.#chain = p.catch(() => {});
    return p.finally(() => {
      this.inFlight -= 1;
    });
  }

  async createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    await this.#chain;
    return this.inner.createSnapshot(index, confState, data);
  }
  async compact(index: LogIndex): Promise<void> {
    await this.#chain;
    return this.inner.compact(index);
  }
  async close(): Promise<void> {
    this.release();
    await this.#chain;
    return this.inner.close();
  }
}
