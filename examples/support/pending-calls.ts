/**
 * Requests sent to a child process over IPC, waiting for their replies: each gets a sequence
 * number and a bounded wait. Used by the demo (examples/demo.ts) and the recipes benchmark.
 */
export class PendingCalls {
  #seq = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  /**
   * Registers a request: calls `send(seq)` and resolves with the reply settled through
   * {@link resolve} / {@link reject}, or rejects with `timeoutError()` after `timeoutMs`.
   */
  call<R>(send: (seq: number) => void, timeoutMs: number, timeoutError: () => Error): Promise<R> {
    const seq = ++this.#seq;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        reject(timeoutError());
      }, timeoutMs);
      this.#pending.set(seq, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as R);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      send(seq);
    });
  }

  /** Resolves request `seq` with its reply (unknown or already timed-out requests are ignored). */
  resolve(seq: number, value: unknown): void {
    const p = this.#pending.get(seq);
    this.#pending.delete(seq);
    p?.resolve(value);
  }

  /** Rejects request `seq` (unknown or already timed-out requests are ignored). */
  reject(seq: number, error: Error): void {
    const p = this.#pending.get(seq);
    this.#pending.delete(seq);
    p?.reject(error);
  }

  /** Rejects every request still waiting (the child exited). */
  rejectAll(error: Error): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}
