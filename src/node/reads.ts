/**
 * Batched linearizable reads (ReadIndex, Raft thesis §6.4). Reads queue up; the driver turns the
 * whole queue into ONE `raft.readIndex(ctx)` round when none is in flight. When Raft releases the
 * round's ReadState, each read of the batch waits until `appliedIndex >= index` and then proceeds.
 * A read that arrives while a round is in flight joins the next round (the earlier round may have
 * confirmed leadership before the read started, so it cannot serve it).
 */
import { ProposalDroppedError } from '../errors.ts';
import type { QuorumError } from '../errors.ts';

export interface ReadWaiter {
  /** Called once the read may run against the local store (or with an error). */
  settle(err?: QuorumError): void;
}

/** A read waiting on a round (a class: one per linearizable read). */
export class ReadCall implements ReadWaiter {
  readonly #resolve: () => void;
  readonly #reject: (err: QuorumError) => void;

  constructor(resolve: () => void, reject: (err: QuorumError) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  settle(err?: QuorumError): void {
    if (err === undefined) this.#resolve();
    else this.#reject(err);
  }
}

interface Round {
  readonly ctx: string;
  readonly waiters: ReadWaiter[];
  readonly issuedAtMs: number;
}

export class ReadBatcher {
  readonly #max: number;
  #queued: ReadWaiter[] = [];
  #inflight: Round | undefined;
  /** Released rounds waiting for apply, in index order. */
  #released: { readonly index: number; readonly waiters: ReadWaiter[] }[] = [];
  #seq = 0;
  #size = 0;

  constructor(maxPending: number) {
    this.#max = maxPending;
  }

  get size(): number {
    return this.#size;
  }

  enqueue(waiter: ReadWaiter): void {
    if (this.#size >= this.#max) throw new ProposalDroppedError(`too many pending reads (maxPendingReads ${this.#max})`);
    this.#size += 1;
    this.#queued.push(waiter);
  }

  /** Removes a waiter that gave up (timeout/abort). */
  cancel(waiter: ReadWaiter): void {
    const drop = (list: ReadWaiter[]): boolean => {
      const i = list.indexOf(waiter);
      if (i < 0) return false;
      list.splice(i, 1);
      this.#size -= 1;
      return true;
    };
    if (drop(this.#queued)) return;
    if (this.#inflight !== undefined && drop(this.#inflight.waiters)) return;
    for (const r of this.#released) if (drop(r.waiters)) return;
  }

  /** The context of a new round to hand to `raft.readIndex`, or undefined when nothing to do. */
  maybeStartRound(nowMs: number): Uint8Array | undefined {
    if (this.#inflight !== undefined || this.#queued.length === 0) return undefined;
    this.#seq += 1;
    const ctx = `r${this.#seq}`;
    this.#inflight = { ctx, waiters: this.#queued, issuedAtMs: nowMs };
    this.#queued = [];
    return new TextEncoder().encode(ctx);
  }

  /** Raft released a read state. */
  onReadState(context: Uint8Array, index: number): void {
    const ctx = new TextDecoder().decode(context);
    if (this.#inflight?.ctx !== ctx) return;
    this.#released.push({ index, waiters: this.#inflight.waiters });
    this.#inflight = undefined;
  }

  /** Raft dropped the round (lost leadership, no leader): its reads go back to the queue. */
  onDropped(context: Uint8Array): void {
    const ctx = new TextDecoder().decode(context);
    if (this.#inflight?.ctx !== ctx) return;
    this.#requeueInflight();
  }

  /** A round unanswered for `staleMs` (a lost message) is retried. */
  retryStale(nowMs: number, staleMs: number): void {
    if (this.#inflight !== undefined && nowMs - this.#inflight.issuedAtMs >= staleMs) this.#requeueInflight();
  }

  #requeueInflight(): void {
    if (this.#inflight === undefined) return;
    this.#queued = this.#inflight.waiters.concat(this.#queued);
    this.#inflight = undefined;
  }

  /** Settles every read whose index is applied. */
  release(appliedIndex: number): void {
    while (this.#released.length > 0 && this.#released[0]!.index <= appliedIndex) {
      const round = this.#released.shift()!;
      for (const w of round.waiters) {
        this.#size -= 1;
        w.settle();
      }
    }
  }

  rejectAll(err: QuorumError): void {
    const all = [...this.#queued, ...(this.#inflight?.waiters ?? []), ...this.#released.flatMap((r) => r.waiters)];
    this.#queued = [];
    this.#inflight = undefined;
    this.#released = [];
    this.#size = 0;
    for (const w of all) w.settle(err);
  }
}
