/**
 * Pending proposals by id, and the replicated dedupe table of applied proposal ids.
 *
 * A proposal id is (member, incarnation, seq): the incarnation is random per start, so a restarted
 * member never reuses an id that is still in the dedupe table. The driver re-proposes a pending
 * proposal (same id, same bytes) after a leader change; the dedupe table makes the second copy a
 * no-op, so a retry never applies a command twice (docs/design.md, "Known pitfalls";
 * Jepsen, etcd #14890).
 */
import { AbortedError, NoLeaderError, ProposalDroppedError, QuorumError, TimeoutError } from '../errors.ts';
import type { AppliedResult } from './applied-state.ts';
import { encodeEnvelopeWith, envelopeHead, parseProposalKey, proposalKey } from './codec.ts';
import { DeadlineCall, timeoutOf } from './deadline.ts';
import type { CallOptions } from './types.ts';

/** What an applied proposal answers (applied-state.ts AppliedResult). */
export type ProposalResult = AppliedResult;

export interface PendingProposal {
  /** The proposal's seq (unique within this member's incarnation). */
  readonly key: number;
  /** The envelope bytes proposed (re-proposed as is). */
  readonly data: Uint8Array;
  /** Leader term at the last time it was handed to Raft; 0 = not handed yet. */
  proposedTerm: number;
  /** Clock ms of the last hand-over to Raft; 0 = never handed over (so the outcome is known: not applied). */
  proposedAtMs: number;
  /** Whether it waits in the driver's to-propose queue. */
  queued: boolean;
  /** Answered (applied, rejected, timed out or aborted): nothing more to do for it. */
  readonly settled: boolean;
  settle(result: AppliedResult | QuorumError): void;
}

/**
 * The ids of the last `capacity` applied proposals, oldest evicted first. It is part of the
 * replicated state (saved in snapshots): every member inserts the same ids in the same log order
 * and eviction is by insertion order only (lookups never refresh an id), so it is deterministic and
 * every member skips exactly the same duplicate entries. Snapshots carry the ids as
 * `member/incarnation/seq` strings, oldest first.
 */
export class DedupeTable {
  readonly #capacity: number;
  /** member → incarnation → seqs: no key string built per lookup. */
  readonly #ids = new Map<string, Map<number, Set<number>>>();
  // Invariant: the ring holds exactly the ids in #ids, in insertion order starting at #head (#head
  // is 0 until the ring is full; from then on slot #head holds the oldest id, the next evicted).
  // Parallel arrays rather than an object per id, and a ring rather than an LRU cache: insertion
  // order is all this table needs.
  readonly #ringMember: string[] = [];
  readonly #ringIncarnation: number[] = [];
  readonly #ringSeq: number[] = [];
  #head = 0;

  constructor(capacity: number, keys: readonly string[] = []) {
    this.#capacity = capacity;
    for (const k of keys) {
      const id = parseProposalKey(k); // Validates a snapshot's strings (throws ProtocolError).
      this.addIfAbsent(id.member, id.incarnation, id.seq);
    }
  }

  get size(): number {
    return this.#ringSeq.length;
  }

  has(member: string, incarnation: number, seq: number): boolean {
    return this.#ids.get(member)?.get(incarnation)?.has(seq) === true;
  }

  /**
   * Adds the id unless present, evicting the oldest one when full; false when it was present
   * already (a duplicate).
   */
  addIfAbsent(member: string, incarnation: number, seq: number): boolean {
    let byIncarnation = this.#ids.get(member);
    if (byIncarnation === undefined) this.#ids.set(member, (byIncarnation = new Map()));
    let seqs = byIncarnation.get(incarnation);
    if (seqs === undefined) byIncarnation.set(incarnation, (seqs = new Set()));
    if (seqs.has(seq)) return false;
    seqs.add(seq);
    if (this.#ringSeq.length < this.#capacity) {
      this.#ringMember.push(member);
      this.#ringIncarnation.push(incarnation);
      this.#ringSeq.push(seq);
      return true;
    }
    const at = this.#head;
    this.#remove(this.#ringMember[at]!, this.#ringIncarnation[at]!, this.#ringSeq[at]!);
    this.#ringMember[at] = member;
    this.#ringIncarnation[at] = incarnation;
    this.#ringSeq[at] = seq;
    this.#head = (at + 1) % this.#capacity;
    return true;
  }

  /** Oldest first, as `member/incarnation/seq` strings (the snapshot format). */
  keys(): string[] {
    return ringKeys(this.#ringMember, this.#ringIncarnation, this.#ringSeq, this.#head);
  }

  /**
   * {@link keys} as of now, built when called: copies the ids (three flat arrays, no strings) so a
   * background snapshot does not build one string per id on the driver loop.
   */
  frozenKeys(): () => string[] {
    const members = this.#ringMember.slice();
    const incarnations = this.#ringIncarnation.slice();
    const seqs = this.#ringSeq.slice();
    const head = this.#head;
    return () => ringKeys(members, incarnations, seqs, head);
  }

  #remove(member: string, incarnation: number, seq: number): void {
    const byIncarnation = this.#ids.get(member);
    const seqs = byIncarnation?.get(incarnation);
    if (byIncarnation === undefined || seqs === undefined || !seqs.delete(seq)) return;
    if (seqs.size > 0) return;
    byIncarnation.delete(incarnation);
    if (byIncarnation.size === 0) this.#ids.delete(member);
  }
}

/** The ids of a dedupe ring, oldest (slot `head`) first, as snapshot strings. */
function ringKeys(members: readonly string[], incarnations: readonly number[], seqs: readonly number[], head: number): string[] {
  const n = seqs.length;
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const at = (head + i) % n;
    out[i] = proposalKey({ member: members[at]!, incarnation: incarnations[at]!, seq: seqs[at]! });
  }
  return out;
}

/** One write waiting to be applied, with its deadline and abort listener (deadline.ts's call). */
class Pending extends DeadlineCall<AppliedResult> implements PendingProposal {
  readonly key: number;
  readonly data: Uint8Array;
  readonly promise: Promise<AppliedResult>;
  proposedTerm = 0;
  proposedAtMs = 0;
  queued = false;
  readonly #owner: Map<number, Pending>;
  readonly #counters: ProposalCounters;

  constructor(key: number, data: Uint8Array, owner: Map<number, Pending>, counters: ProposalCounters, signal: AbortSignal | undefined) {
    let resolve!: (result: AppliedResult) => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<AppliedResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    super(signal, undefined, resolve, reject);
    this.key = key;
    this.data = data;
    this.#owner = owner;
    this.#counters = counters;
    this.promise = promise;
  }

  get settled(): boolean {
    return this.done;
  }

  settle(result: AppliedResult | QuorumError): void {
    if (result instanceof QuorumError) this.reject(result);
    else this.resolve(result);
  }

  /** The deadline passed: the caller gives up; the entry may still apply, unseen. */
  override timeoutError(): QuorumError {
    if (!this.done) this.#counters.proposalsFailed += 1;
    const neverProposed = this.proposedTerm === 0 && this.proposedAtMs === 0;
    return neverProposed ? new NoLeaderError('node: no leader within the request timeout') : unknownOutcome('the write was not applied within the timeout');
  }

  protected override finished(): void {
    this.#owner.delete(this.key);
  }
}

/** Where failed proposals are counted (the node's metrics). */
export interface ProposalCounters {
  proposalsFailed: number;
}

export class Proposals {
  readonly incarnation: number;
  readonly #counters: ProposalCounters;
  readonly #member: string;
  readonly #max: number;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();
  /** The envelope head (member and incarnation) shared by every proposal of this incarnation. */
  readonly #envelopeHead: Uint8Array;

  constructor(member: string, incarnation: number, max: number, counters: ProposalCounters = { proposalsFailed: 0 }) {
    this.#counters = counters;
    this.#member = member;
    this.incarnation = incarnation;
    this.#max = max;
    this.#envelopeHead = envelopeHead(member, incarnation);
  }

  get size(): number {
    return this.#pending.size;
  }

  /**
   * Registers a proposal of `command` with the call's deadline (`timeoutMs`, else `fallbackMs`)
   * and signal. Throws InvalidArgumentError (bad timeoutMs), AbortedError (signal already
   * aborted) or ProposalDroppedError (past maxPendingProposals); nothing is registered then.
   */
  add(command: Uint8Array, options: CallOptions | undefined, fallbackMs: number): PendingProposal & { readonly promise: Promise<AppliedResult> } {
    const timeoutMs = timeoutOf(options, fallbackMs);
    const signal = options?.signal;
    if (signal?.aborted === true) throw new AbortedError();
    if (this.#pending.size >= this.#max) {
      this.#counters.proposalsFailed += 1;
      throw new ProposalDroppedError(`too many pending proposals (maxPendingProposals ${this.#max})`);
    }
    this.#seq += 1;
    const pending = new Pending(this.#seq, encodeEnvelopeWith(this.#envelopeHead, this.#seq, command), this.#pending, this.#counters, signal);
    pending.timer = setTimeout(DeadlineCall.fire, timeoutMs, pending);
    signal?.addEventListener('abort', pending, { once: true });
    this.#pending.set(pending.key, pending);
    return pending;
  }

  get(key: number): PendingProposal | undefined {
    return this.#pending.get(key);
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
