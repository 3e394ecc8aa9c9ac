/**
 * Pending proposals by id, and the replicated dedupe table of applied proposal ids.
 *
 * A proposal id is (member, incarnation, seq): the incarnation is random per start, so a restarted
 * member never reuses an id that is still in the dedupe table. The driver re-proposes a pending
 * proposal (same id, same bytes) after a leader change; the dedupe table makes the second copy a
 * no-op, so a retry never applies a command twice (DESIGN.md §7, Jepsen etcd #14890).
 */
import { LRUCache } from 'lru-cache';
import { ProposalDroppedError, QuorumError, TimeoutError } from '../errors.ts';
import type { CommandResult } from '../store/types.ts';
import { encodeEnvelope, proposalKey } from './codec.ts';
import type { ProposalId } from './codec.ts';

export interface PendingProposal {
  readonly key: string;
  /** The envelope bytes proposed (re-proposed as is). */
  readonly data: Uint8Array;
  /** Leader term at the last time it was handed to Raft; 0 = not handed yet. */
  proposedTerm: number;
  /** Clock ms of the last hand-over to Raft; 0 = never handed over (so the outcome is known: not applied). */
  proposedAtMs: number;
  /** Whether it waits in the driver's to-propose queue. */
  queued: boolean;
  settle(result: CommandResult | QuorumError): void;
}

/**
 * The ids of the last `capacity` applied proposals, oldest evicted first. It is part of the
 * replicated state (saved in snapshots): every member inserts the same ids in the same log order
 * and only `has`/`set` are used (no recency updates on read), so eviction is deterministic and
 * every member skips exactly the same duplicate entries.
 */
export class DedupeTable {
  readonly #cache: LRUCache<string, true>;

  constructor(capacity: number, keys: readonly string[] = []) {
    this.#cache = new LRUCache<string, true>({ max: capacity });
    for (const k of keys) this.#cache.set(k, true);
  }

  has(key: string): boolean {
    return this.#cache.has(key);
  }

  add(key: string): void {
    this.#cache.set(key, true, { noUpdateTTL: true });
  }

  /** Oldest first, for snapshots. */
  keys(): string[] {
    return [...this.#cache.rkeys()];
  }
}

/** A class, not an object of closures: one is made per write. */
class Pending implements PendingProposal {
  readonly key: string;
  readonly data: Uint8Array;
  proposedTerm = 0;
  proposedAtMs = 0;
  queued = false;
  readonly #owner: Map<string, PendingProposal>;
  readonly #settle: (result: CommandResult | QuorumError) => void;

  constructor(key: string, data: Uint8Array, owner: Map<string, PendingProposal>, settle: (result: CommandResult | QuorumError) => void) {
    this.key = key;
    this.data = data;
    this.#owner = owner;
    this.#settle = settle;
  }

  settle(result: CommandResult | QuorumError): void {
    if (this.#owner.delete(this.key)) this.#settle(result);
  }
}

export class Proposals {
  readonly incarnation: number;
  readonly #member: string;
  readonly #max: number;
  #seq = 0;
  readonly #pending = new Map<string, PendingProposal>();

  constructor(member: string, incarnation: number, max: number) {
    this.#member = member;
    this.incarnation = incarnation;
    this.#max = max;
  }

  get size(): number {
    return this.#pending.size;
  }

  nextId(): ProposalId {
    this.#seq += 1;
    return { member: this.#member, incarnation: this.incarnation, seq: this.#seq };
  }

  /** Registers a proposal of `command` and returns it; throws ProposalDroppedError past the limit. */
  add(command: Uint8Array, settle: (result: CommandResult | QuorumError) => void): PendingProposal {
    if (this.#pending.size >= this.#max) throw new ProposalDroppedError(`too many pending proposals (maxPendingProposals ${this.#max})`);
    const id = this.nextId();
    const pending = new Pending(proposalKey(id), encodeEnvelope({ id, command }), this.#pending, settle);
    this.#pending.set(pending.key, pending);
    return pending;
  }

  get(key: string): PendingProposal | undefined {
    return this.#pending.get(key);
  }

  /** Forgets a proposal whose caller gave up (timeout/abort): the entry may still apply, unseen. */
  forget(key: string): void {
    this.#pending.delete(key);
  }

  values(): IterableIterator<PendingProposal> {
    return this.#pending.values();
  }

  rejectAll(err: QuorumError): void {
    for (const p of [...this.#pending.values()]) p.settle(err);
  }
}

export function unknownOutcome(reason: string): TimeoutError {
  return new TimeoutError(`node: ${reason}; the outcome is unknown (the write may or may not have been applied)`);
}
