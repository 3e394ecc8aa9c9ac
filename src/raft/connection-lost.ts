/**
 * The connection-lost hint (docs/raft.md, "Connection-lost hint"): a killed process's sockets
 * close at once (a silent partition closes nothing and is left to the timeout). When the closed
 * connection is this follower's leader's, the follower stops honouring that leader's lease and
 * campaigns after 1 + rank × heartbeatTicks ticks, rank being its place among the other voters'
 * sorted ids, instead of a whole randomized election timeout. Staggered, not random: the
 * followers of a killed leader all learn of it at once, and two campaigning together split the
 * vote (then wait a full timeout); one whose log is behind loses its pre-vote and the next one
 * wins.
 *
 * Only timers change, so safety does not rest on the hint being true: a false one costs at most a
 * pre-vote round, which the members still hearing from the leader refuse. That takes pre-vote
 * (else the early campaign bumps the term) and checkQuorum (else nobody refuses), so without
 * either the hint is ignored. Acted on at most once per election timeout and term (a flapping
 * socket; the next leader's kill is a new term). Ignored with lease reads: a leader serving reads
 * from its lease relies on no member voting within an election timeout of its last heartbeat,
 * whatever the sockets did.
 *
 * This class holds the hint's state; Raft decides when it applies and moves its own timers.
 */
import type { Message, NodeId, Term } from '../protocol/types.ts';

export class ConnectionLostHint {
  /**
   * The transport saw the connection to the leader close. Until a message from a leader or a
   * role change clears it, this member no longer honours the leader's lease toward vote requests.
   */
  #leaderLost = false;
  /**
   * The last pre-vote request ignored within the leader's lease, and when (ticks). A hint that
   * arrives just after it answers it then: the pre-candidate heard of the dead leader first, and
   * would otherwise wait a whole election timeout for an answer.
   */
  #ignoredPreVote: { readonly m: Message; readonly tick: number } | undefined = undefined;
  /** When (term, ticks) a hint was last acted on (rate limit), if ever. */
  #lastActed: { readonly term: Term; readonly tick: number } | undefined = undefined;

  get leaderLost(): boolean {
    return this.#leaderLost;
  }

  /** A message only the leader sends arrived: the leader is alive after all. */
  heardFromLeader(): void {
    this.#leaderLost = false;
  }

  /** A new term or leader: nothing known about the old one applies. */
  reset(): void {
    this.#leaderLost = false;
    this.#ignoredPreVote = undefined;
  }

  preVoteIgnored(m: Message, tick: number): void {
    this.#ignoredPreVote = { m, tick };
  }

  /**
   * Records a hint about the leader at (term, tick) unless one was acted on within the last
   * `electionTicks` of the same term; returns whether this one is acted on.
   */
  act(term: Term, tick: number, electionTicks: number): boolean {
    const recent = this.#lastActed;
    if (recent !== undefined && recent.term === term && tick - recent.tick < electionTicks) return false;
    this.#lastActed = { term, tick };
    this.#leaderLost = true;
    return true;
  }

  /**
   * Takes the ignored pre-vote, returning it when it should be answered now: it came from
   * another member than the lost leader no more than `withinTicks` ago.
   */
  takeIgnoredPreVote(leader: NodeId, tick: number, withinTicks: number): Message | undefined {
    const ignored = this.#ignoredPreVote;
    this.#ignoredPreVote = undefined;
    if (ignored === undefined || ignored.m.from === leader || tick - ignored.tick > withinTicks) return undefined;
    return ignored.m;
  }
}
