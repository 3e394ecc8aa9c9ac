/**
 * RawNode: the driver's handle on the Raft core (etcd-io/raft's RawNode design). Inputs are
 * `tick`, `step` and the local requests; output is a {@link Ready} batch, acknowledged with
 * `advance()`. Entries handed out in a Ready stay "unstable" (served from memory) until the
 * matching `advance()`, after which the core reads them from storage. Between `ready()` and
 * `advance()` the driver may keep stepping messages and ticking; the next Ready then carries
 * what they produced.
 */
import { assert } from './assert.ts';
import { encodeConfChange } from './conf-change.ts';
import { normalizeConfig } from './config.ts';
import { invalidReason } from './message.ts';
import { Raft } from './raft.ts';
import { ConfChangeInProgressError } from '../errors.ts';
import type { ConfChange, Entry, HardState, LogIndex, Message, NodeId, SoftState } from '../protocol/types.ts';
import type { ProgressStatus, RaftConfig, RaftStatus, Ready } from './types.ts';

const NO_MESSAGES: readonly Message[] = Object.freeze([]);

/** What the outstanding Ready handed out, applied by advance(). */
interface InProgress {
  readonly appliedTo: LogIndex;
  readonly committedBytes: number;
  readonly confChanges: readonly Entry[] | undefined;
}

export class RawNode {
  readonly #raft: Raft;
  #prevSoft: SoftState;
  #prevHard: HardState;
  #inProgress: InProgress | undefined;

  constructor(config: RaftConfig) {
    const cfg = normalizeConfig(config);
    this.#raft = new Raft(cfg);
    this.#replayConfChanges();
    this.#prevSoft = this.#raft.softState();
    this.#prevHard = this.#raft.hardState();
  }

  /**
   * The storage's conf state is the one of its snapshot. Conf changes after it that are already
   * committed are applied now (as etcd's bootstrap does): they were applied before a restart, or
   * they are the bootstrap batch. Applying a committed change early only makes this member learn
   * the membership sooner; `advance()` skips changes at or below `confIndex`.
   */
  #replayConfChanges(): void {
    const r = this.#raft;
    const to = r.log.committed;
    // Only the changes after the snapshot: its conf state already holds the ones at or below it
    // (storage may still keep those entries, for slow followers).
    for (let lo = Math.max(r.log.firstIndex(), r.log.storage.snapshot().meta.index + 1); lo <= to; ) {
      const ents = r.log.entries(lo, to + 1, r.cfg.maxCommittedBytesPerReady);
      if (ents === undefined || ents.length === 0) break;
      for (const e of ents) if (e.type === 'confChange') r.applyConfEntry(e);
      lo = (ents[ents.length - 1] as Entry).index + 1;
    }
  }

  tick(): void {
    this.#raft.tick();
  }

  /** Feeds a message from a peer. Invalid, misaddressed or non-member messages are dropped. */
  step(msg: Message): void {
    const r = this.#raft;
    const reason = invalidReason(msg);
    if (reason !== undefined) {
      r.cfg.logger.warn({ id: r.id, reason }, 'raft: dropping invalid message');
      return;
    }
    if (msg.to !== r.id) {
      r.cfg.logger.warn({ id: r.id, to: msg.to, from: msg.from }, 'raft: dropping message addressed to another member');
      return;
    }
    // No membership filter (as etcd-io/raft): a member's applied configuration may lag the log
    // arbitrarily, and an id may be removed and re-added, so the sender may be the very leader
    // we must learn the membership from. Terms, pre-vote and leader stickiness make messages
    // from stale or removed members harmless; the transport authenticates peers.
    if (msg.from === r.id) {
      r.cfg.logger.debug({ id: r.id, type: msg.type }, 'raft: dropping a message from myself');
      return;
    }
    r.step(msg);
  }

  propose(data: Uint8Array): void {
    this.#raft.propose('normal', data);
  }

  proposeConfChange(cc: ConfChange): void {
    if (this.#raft.confChangePending()) throw new ConfChangeInProgressError();
    this.#raft.propose('confChange', encodeConfChange(cc));
  }

  /** Requests a linearizable read point; it comes back in `Ready.readStates` (or `droppedReads`). */
  readIndex(context: Uint8Array): void {
    this.#raft.readIndex(context);
  }

  transferLeadership(to: NodeId): void {
    this.#raft.transferLeadership(to);
  }

  /** Starts an election now (skipping the randomized timeout). */
  campaign(): void {
    this.#raft.startElection();
  }

  /** The transport's connection with `id` closed: a follower whose leader that is campaigns early (connection-lost.ts). */
  reportConnectionLost(id: NodeId): void {
    this.#raft.connectionLost(id);
  }

  reportUnreachable(id: NodeId): void {
    this.#raft.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, delivered: boolean): void {
    this.#raft.reportSnapshot(id, delivered);
  }

  hasReady(): boolean {
    if (this.#inProgress !== undefined) return false;
    const r = this.#raft;
    r.flush();
    const u = r.log.unstable;
    if (r.hasOutput()) return true;
    if (u.offsetInProgress < u.offset + u.entries.length || (u.snapshot !== undefined && !u.snapshotInProgress)) return true;
    if (r.log.hasNextCommittedEntries()) return true;
    if (r.lead !== this.#prevSoft.leader || r.role !== this.#prevSoft.role) return true;
    const p = this.#prevHard;
    const h = r.hardState();
    return h.term !== p.term || h.vote !== p.vote || h.commit !== p.commit;
  }

  /** Builds the next batch. Call `advance()` after handling it, before the next `ready()`. */
  ready(): Ready {
    assert(this.#inProgress === undefined, 'ready() called again before advance()');
    const r = this.#raft;
    r.flush();
    const log = r.log;
    const u = log.unstable;
    const snapshot = u.snapshot !== undefined && !u.snapshotInProgress ? u.snapshot : undefined;
    const entries = u.nextEntries();
    u.acceptInProgress();
    const committedEntries = log.nextCommittedEntries(r.cfg.maxCommittedBytesPerReady);
    let committedBytes = 0;
    let confChanges: Entry[] | undefined;
    for (let i = 0; i < committedEntries.length; i++) {
      const e = committedEntries[i] as Entry;
      committedBytes += e.data.length;
      if (e.type === 'confChange') (confChanges ??= []).push(e);
    }
    const last = committedEntries[committedEntries.length - 1];
    const appliedTo = last !== undefined ? last.index : snapshot !== undefined ? snapshot.meta.index : log.applying;
    if (last !== undefined) log.applying = last.index;
    this.#inProgress = { appliedTo: Math.max(appliedTo, log.applying), committedBytes, confChanges };
    const out = r.takeOutput();
    const ready: {
      -readonly [K in keyof Ready]: Ready[K];
    } = {
      entries,
      messages: out.messages.length > 0 ? out.messages : NO_MESSAGES,
      messagesAfterPersist: out.messagesAfterPersist.length > 0 ? out.messagesAfterPersist : NO_MESSAGES,
      committedEntries,
      readStates: out.readStates,
      droppedReads: out.droppedReads,
      mustSync: false,
    };
    if (snapshot !== undefined) ready.snapshot = snapshot;
    if (r.lead !== this.#prevSoft.leader || r.role !== this.#prevSoft.role) {
      this.#prevSoft = r.softState();
      ready.softState = this.#prevSoft;
    }
    const p = this.#prevHard;
    const h = r.hardState();
    if (h.term !== p.term || h.vote !== p.vote || h.commit !== p.commit) {
      this.#prevHard = h;
      ready.hardState = h;
    }
    ready.mustSync = entries.length > 0 || snapshot !== undefined || h.term !== p.term || h.vote !== p.vote;
    return ready;
  }

  /** The driver persisted and applied the last Ready. */
  advance(): void {
    const done = this.#inProgress;
    assert(done !== undefined, 'advance() called without a ready()');
    this.#inProgress = undefined;
    const r = this.#raft;
    const log = r.log;
    const stableTo = log.unstable.stableHandedOut();
    if (done.confChanges !== undefined) for (const e of done.confChanges) r.applyConfEntry(e);
    r.advance(done.appliedTo, done.committedBytes, stableTo);
  }

  status(): RaftStatus {
    return this.#raft.status();
  }
}
