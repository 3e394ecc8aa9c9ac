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
 */
import type { NodeId } from '../protocol/types.ts';
import type { Raft } from './raft.ts';

export function connectionLost(r: Raft, id: NodeId): void {
  if (!r.cfg.checkQuorum || !r.cfg.preVote || r.cfg.leaseReads) return;
  if (r.role !== 'follower' || r.lead === '' || id !== r.lead || !r.promotable()) return;
  const recent = r.lastConnectionLost;
  if (recent !== undefined && recent.term === r.term && r.ticks - recent.tick < r.cfg.electionTicks) return;
  r.lastConnectionLost = { term: r.term, tick: r.ticks };
  r.leaderConnectionLost = true;
  const rank = r.voters.filter((v) => v !== id && v < r.id).length;
  const dueIn = 1 + rank * r.cfg.heartbeatTicks;
  r.electionElapsed = Math.max(r.electionElapsed, r.randomizedElectionTimeout - dueIn);
  // A pre-vote this member ignored within the lease just before (its pre-candidate heard of the
  // close first) is answered now, instead of leaving that candidate to wait a whole timeout.
  const ignored = r.ignoredPreVote;
  r.ignoredPreVote = undefined;
  if (ignored !== undefined && ignored.m.from !== id && r.ticks - ignored.tick <= r.cfg.heartbeatTicks) r.step(ignored.m);
}
