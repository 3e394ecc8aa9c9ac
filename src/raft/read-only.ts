/**
 * ReadIndex bookkeeping on the leader (thesis §6.4). Heartbeat broadcasts are numbered
 * ("rounds") and every heartbeat carries its round in `context`; followers echo it. A read
 * request that arrives while round r is the latest sent waits for round r + 1: once a quorum of
 * voters (the leader included) has answered a heartbeat of that round or a later one, the
 * leader provably was still the leader after the request arrived, and the request is released
 * at the commit index it recorded. Requests are FIFO with increasing rounds: release pops from
 * the head.
 *
 * The same acknowledgements give the leader lease used by `leaseReads`: the send tick of the
 * highest quorum-acknowledged round.
 */
import type { LogIndex, NodeId } from '../protocol/types.ts';

export interface ReadRequest {
  readonly index: LogIndex;
  readonly context: Uint8Array;
  /** The member that asked: the leader itself or a follower awaiting a readIndexResponse. */
  readonly from: NodeId;
  /** The heartbeat round whose quorum acknowledgement releases this request. */
  readonly round: number;
}

/** Read requests a leader (or a follower, awaiting answers) holds before refusing new ones. */
export const MAX_PENDING_READS = 4096;

/** How many recent rounds remember their send tick (for the lease). */
const ROUND_TICKS = 256;

export class ReadOnly {
  #queue: ReadRequest[] = [];
  #head = 0;
  // Invariant: #round only increases; it is the round of the latest heartbeat broadcast.
  #round = 0;
  /** Highest round each member acknowledged. */
  readonly #acked = new Map<NodeId, number>();
  readonly #sentTicks = new Float64Array(ROUND_TICKS);

  get size(): number {
    return this.#queue.length - this.#head;
  }

  get round(): number {
    return this.#round;
  }

  /** Queues a request; it needs the NEXT heartbeat round (sent after it arrived). */
  add(index: LogIndex, context: Uint8Array, from: NodeId): void {
    this.#queue.push({ index, context, from, round: this.#round + 1 });
  }

  /** Starts a heartbeat round sent at `tick`; returns the round number to put in heartbeats. */
  nextRound(tick: number): number {
    this.#round++;
    this.#sentTicks[this.#round % ROUND_TICKS] = tick;
    return this.#round;
  }

  /** Send tick of `round`, or -Infinity when it is too old to remember. */
  sentTick(round: number): number {
    if (round <= 0 || round > this.#round || this.#round - round >= ROUND_TICKS) return -Infinity;
    return this.#sentTicks[round % ROUND_TICKS] ?? -Infinity;
  }

  ack(from: NodeId, round: number): void {
    if (round > this.#round) return;
    if (round > (this.#acked.get(from) ?? 0)) this.#acked.set(from, round);
  }

  ackedRound(id: NodeId): number {
    return this.#acked.get(id) ?? 0;
  }

  /** Whether the head request waits for a round that has not been broadcast yet. */
  needsRound(): boolean {
    const last = this.#queue[this.#queue.length - 1];
    return last !== undefined && this.#head < this.#queue.length && last.round > this.#round;
  }

  /** Pops and returns the requests whose round is at most `round` (confirmed by a quorum). */
  releaseUpTo(round: number): ReadRequest[] | undefined {
    let out: ReadRequest[] | undefined;
    while (this.#head < this.#queue.length) {
      const r = this.#queue[this.#head] as ReadRequest;
      if (r.round > round) break;
      (out ??= []).push(r);
      this.#head++;
    }
    if (this.#head === this.#queue.length) {
      if (this.#head > 0) this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Removes and returns every pending request (leadership lost), and forgets acknowledgements. */
  drain(): ReadRequest[] {
    const out = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#acked.clear();
    return out;
  }
}

/** Heartbeat contexts carry the round as 8 bytes (a float64, exact for integers < 2^53). */
export function encodeRound(round: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, round);
  return out;
}

export function decodeRound(context: Uint8Array | undefined): number {
  if (context === undefined || context.length !== 8) return 0;
  const v = new DataView(context.buffer, context.byteOffset, 8).getFloat64(0);
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
}
