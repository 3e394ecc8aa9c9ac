/**
 * Frees compacted history in the background. A committed compaction makes history below its
 * revision invisible at once (store.ts `compact`), and the records it drops are freed here in
 * slices of {@link COMPACTION_SLICE_MS}, with the event loop turning between them: at 1M
 * revisions freeing them is seconds of work that one synchronous stretch would take from the
 * host. Slices run between the driver's turns, never inside an apply (an apply is synchronous).
 * A store replaced by a snapshot install starts with nothing queued; the loop follows the
 * current store.
 */
import type { Store } from '../store/store.ts';
import { yieldTurn } from './turn-budget.ts';

/** Longest a slice of freeing compacted history runs before the event loop gets a turn, in ms. */
export const COMPACTION_SLICE_MS = 8;

export class BackgroundCompaction {
  readonly #store: () => Store;
  readonly #fail: (err: unknown) => void;
  #running = false;
  #stopped = false;
  /** Callers of drained() waiting for the loop to finish. */
  #waiters: (() => void)[] = [];

  constructor(store: () => Store, fail: (err: unknown) => void) {
    this.#store = store;
    this.#fail = fail;
  }

  /** Whether a slice is due or running (tests, metrics). */
  get running(): boolean {
    return this.#running;
  }

  /** Starts the background loop if the store has compacted history queued; cheap otherwise. */
  kick(): void {
    if (this.#running || this.#stopped || !this.#store().compactionPending) return;
    this.#running = true;
    this.#run().catch((err: unknown) => this.#fail(err));
  }

  /**
   * Resolves once no compacted history is queued any more (etcd's `physical` compaction), or
   * this member stopped.
   */
  drained(): Promise<void> {
    this.kick();
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopped) {
        await yieldTurn();
        if (this.#stopped || !this.#store().continueCompaction(COMPACTION_SLICE_MS)) return;
      }
    } finally {
      this.#running = false;
      for (const w of this.#waiters.splice(0)) w();
    }
  }
}
