/**
 * How long the driver loop may keep the event loop busy. A storage whose `save()` resolves in a
 * microtask (memory storage) and a caller awaiting writes in a tight loop would keep the driver in
 * microtasks forever — no tick, lease expiry, timeout or socket callback would ever run — so the
 * loop yields (setImmediate) once a turn has used its budget.
 *
 * A turn is the time since the event loop last reached its check phase. It spans driver-loop
 * runs: a caller awaiting writes restarts the loop from microtasks, which never lets the event
 * loop move on by itself. With file storage or a network transport every save or message already
 * ends a turn, so the budget is never reached there.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Ready batches per turn at most. @default 64 */
export const MAX_READIES_PER_TURN = 64;
/** Milliseconds per turn at most. @default 10 */
export const MAX_TURN_MS = 10;

export class TurnBudget {
  readonly #maxReadies: number;
  readonly #maxMs: number;
  #open = false;
  #readies = 0;
  #startMs = 0;
  readonly #close = (): void => {
    this.#open = false;
  };

  constructor(maxReadies = MAX_READIES_PER_TURN, maxMs = MAX_TURN_MS) {
    this.#maxReadies = maxReadies;
    this.#maxMs = maxMs;
  }

  /** Counts one Ready batch; true when the loop must yield before the next one. */
  spend(): boolean {
    if (!this.#open) {
      this.#open = true;
      this.#readies = 0;
      this.#startMs = performance.now();
      setImmediate(this.#close);
    }
    this.#readies += 1;
    return this.#readies >= this.#maxReadies || performance.now() - this.#startMs >= this.#maxMs;
  }
}

/** Resolves after the event loop ran its timers and I/O callbacks once. */
export function yieldTurn(): Promise<void> {
  return yieldToEventLoop();
}
