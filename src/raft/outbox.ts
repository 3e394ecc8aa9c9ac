/**
 * What a member produces for the driver between two Readys, besides the log: messages (split by
 * whether they may leave before the Ready's fsync), served read points, and reads it could not
 * serve. Raft fills it; RawNode empties it into each Ready. Reads a follower forwarded to its
 * leader wait in `ForwardedReads` until the answer or their deadline.
 */
import { bytesEqual } from './message.ts';
import { MAX_PENDING_READS } from './read-only.ts';
import type { Message, ReadState } from '../protocol/types.ts';

/** The outbox's contents, taken at once. */
export interface RaftOutput {
  readonly messages: Message[];
  readonly messagesAfterPersist: Message[];
  readonly readStates: ReadState[];
  readonly droppedReads: Uint8Array[];
}

export class RaftOutbox {
  #messages: Message[] = [];
  #messagesAfterPersist: Message[] = [];
  #readStates: ReadState[] = [];
  #droppedReads: Uint8Array[] = [];

  send(m: Message): void {
    // Votes, vote grants and append acknowledgements promise durable state: they leave only
    // after the Ready's fsync. Everything else may leave at once.
    if (m.type === 'appendResponse' || m.type === 'voteResponse' || m.type === 'vote') this.#messagesAfterPersist.push(m);
    else this.#messages.push(m);
  }

  readServed(state: ReadState): void {
    this.#readStates.push(state);
  }

  readDropped(context: Uint8Array): void {
    this.#droppedReads.push(context);
  }

  isEmpty(): boolean {
    return this.#messages.length === 0 && this.#messagesAfterPersist.length === 0 && this.#readStates.length === 0 && this.#droppedReads.length === 0;
  }

  take(): RaftOutput {
    const out = { messages: this.#messages, messagesAfterPersist: this.#messagesAfterPersist, readStates: this.#readStates, droppedReads: this.#droppedReads };
    this.#messages = [];
    this.#messagesAfterPersist = [];
    this.#readStates = [];
    this.#droppedReads = [];
    return out;
  }
}

/** A read forwarded to the leader, awaiting its readIndexResponse until `deadlineTick`. */
interface ForwardedRead {
  readonly context: Uint8Array;
  readonly deadlineTick: number;
}

/** A follower's reads waiting for the leader's read index, oldest first (bounded). */
export class ForwardedReads {
  // Invariant: deadlines are non-decreasing (every read waits the same election timeout).
  #reads: ForwardedRead[] = [];

  /** Adds a read; false when MAX_PENDING_READS already wait. */
  add(context: Uint8Array, deadlineTick: number): boolean {
    if (this.#reads.length >= MAX_PENDING_READS) return false;
    this.#reads.push({ context, deadlineTick });
    return true;
  }

  /** Removes the read with this context; returns whether it was waiting. */
  resolve(context: Uint8Array): boolean {
    const i = this.#reads.findIndex((r) => bytesEqual(r.context, context));
    if (i < 0) return false;
    this.#reads.splice(i, 1);
    return true;
  }

  /** Drops the reads whose deadline is at or before `tick` into `outbox`. */
  expire(tick: number, outbox: RaftOutbox): void {
    const first = this.#reads[0];
    if (first === undefined || first.deadlineTick > tick) return;
    const keep: ForwardedRead[] = [];
    for (const r of this.#reads) {
      if (r.deadlineTick > tick) keep.push(r);
      else outbox.readDropped(r.context);
    }
    this.#reads = keep;
  }

  /** Drops every waiting read into `outbox` (the leader changed). */
  dropAll(outbox: RaftOutbox): void {
    for (const r of this.#reads) outbox.readDropped(r.context);
    this.#reads = [];
  }
}
