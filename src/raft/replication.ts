/**
 * The leader's side of Raft: log replication with per-follower flow control (§5.3), commit
 * (§5.4.2), heartbeats, CheckQuorum, ReadIndex and leadership transfer. Sends are batched: an
 * event (proposal, acknowledgement, commit) only marks the leader `needsFlush`, and `flush()`
 * — called when the driver asks for a Ready — sends each follower as few appends as the
 * window allows, each carrying as many entries as `maxMessageBytes` allows.
 */
import { assert } from './assert.ts';
import { NO_ENTRIES } from './message.ts';
import { committedIndex } from './quorum.ts';
import { decodeRound, encodeRound, MAX_PENDING_READS, type ReadRequest } from './read-only.ts';
import type { Raft } from './raft.ts';
import type { Progress } from './progress.ts';
import type { Entry, LogIndex, Message, NodeId } from '../protocol/types.ts';

/** Election timeouts after which an unreported snapshot to a live follower is presumed lost. */
const SNAPSHOT_TIMEOUT_ELECTIONS = 5;

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case 'appendResponse':
      handleAppendResponse(r, m);
      return;
    case 'heartbeatResponse':
      handleHeartbeatResponse(r, m);
      return;
    case 'propose':
      handleForwardedProposal(r, m);
      return;
    case 'readIndex':
      if (m.context === undefined) return;
      leaderReadIndex(r, m.context, m.from);
      return;
    case 'append':
    case 'heartbeat':
    case 'snapshot':
      r.cfg.logger.warn({ id: r.id, from: m.from, term: m.term, type: m.type }, 'raft: another leader in my term; ignoring');
      return;
    default:
      return;
  }
}

export function tickLeader(r: Raft): void {
  r.heartbeatElapsed++;
  r.electionElapsed++;
  if (r.electionElapsed >= r.cfg.electionTicks) {
    r.electionElapsed = 0;
    if (r.cfg.checkQuorum) {
      if (!quorumActive(r)) {
        r.cfg.logger.warn({ id: r.id, term: r.term }, 'raft: lost contact with a quorum; stepping down');
        r.becomeFollower(r.term, '');
        return;
      }
      for (const pr of r.prs.values()) pr.recentActive = false;
    }
    if (r.leadTransferee !== '') {
      r.cfg.logger.info({ id: r.id, to: r.leadTransferee }, 'raft: leadership transfer timed out; aborted');
      r.leadTransferee = '';
    }
  }
  if (r.heartbeatElapsed >= r.cfg.heartbeatTicks) {
    r.heartbeatElapsed = 0;
    broadcastHeartbeat(r);
  }
}

function quorumActive(r: Raft): boolean {
  let active = 0;
  for (const id of r.voters) {
    if (id === r.id || r.prs.get(id)?.recentActive === true) active++;
  }
  return active >= Math.floor(r.voters.length / 2) + 1;
}

// ---- proposals -------------------------------------------------------------------------------

/** Why a proposal cannot be appended now, or undefined when it can. */
export function refuseReason(r: Raft, bytes: number): string | undefined {
  if (r.leadTransferee !== '') return `leadership transfer to ${r.leadTransferee} in progress`;
  if (bytes > r.cfg.maxMessageBytes) return `entry of ${bytes} bytes exceeds maxMessageBytes ${r.cfg.maxMessageBytes}`;
  // An empty pipeline always accepts one entry, so a large entry cannot wedge the leader.
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + bytes > r.cfg.maxUncommittedBytes) {
    return `uncommitted log bytes would exceed maxUncommittedBytes ${r.cfg.maxUncommittedBytes}`;
  }
  return undefined;
}

/** Appends one entry to the leader's log (the caller checked `refuseReason`). */
export function appendEntry(r: Raft, type: Entry['type'], data: Uint8Array): LogIndex {
  const index = r.log.lastIndex() + 1;
  r.log.appendOne({ term: r.term, index, type, data });
  r.uncommittedBytes += data.length;
  if (type === 'confChange') r.pendingConfIndex = index;
  r.needsFlush = true;
  return index;
}

function handleForwardedProposal(r: Raft, m: Message): void {
  for (const e of m.entries) {
    if (!(e.data instanceof Uint8Array) || (e.type !== 'normal' && e.type !== 'confChange')) return;
    const reason = refuseReason(r, e.data.length);
    if (reason !== undefined) {
      r.cfg.logger.info({ id: r.id, from: m.from, reason }, 'raft: dropping forwarded proposal');
      return;
    }
    if (e.type === 'confChange' && r.pendingConfIndex > r.log.applied) {
      r.cfg.logger.info({ id: r.id, from: m.from }, 'raft: dropping forwarded conf change, one is in progress');
      continue;
    }
    appendEntry(r, e.type, e.data);
  }
}

// ---- commit ----------------------------------------------------------------------------------

/** §5.4.2: advance commit to the quorum's match index, only through an entry of this term. */
export function maybeCommit(r: Raft): boolean {
  const mci = committedIndex(r.voters, (id) => matchOf(r, id), r.scratch);
  if (mci <= r.log.committed || r.log.term(mci) !== r.term) return false;
  r.log.commitTo(mci);
  r.needsFlush = true;
  if (r.pendingReads.length > 0) {
    const pending = r.pendingReads;
    r.pendingReads = [];
    for (const p of pending) leaderReadIndex(r, p.context, p.from);
  }
  return true;
}

function matchOf(r: Raft, id: NodeId): LogIndex {
  if (id === r.id) return r.selfMatch;
  return r.prs.get(id)?.match ?? 0;
}

/** advance(): the leader persisted its log up to `index`; it now counts itself for it. */
export function selfPersisted(r: Raft, index: LogIndex): void {
  if (index > r.selfMatch) {
    r.selfMatch = index;
    maybeCommit(r);
  }
}

// ---- replication -----------------------------------------------------------------------------

function handleAppendResponse(r: Raft, m: Message): void {
  const pr = r.prs.get(m.from);
  if (pr === undefined) return;
  if (m.index > r.log.lastIndex()) {
    // Nobody but us could have sent that follower entries of our term: a broken peer. Drop it
    // rather than let it push match (and commit) past our log.
    r.cfg.logger.warn({ id: r.id, from: m.from, index: m.index }, 'raft: append response beyond the last index; dropped');
    return;
  }
  pr.recentActive = true;
  if (m.reject) {
    let next = m.rejectHint;
    // The follower's hint names its term at that index: skip our entries of later terms too.
    if (m.logTerm > 0) next = r.log.findConflictByTerm(m.rejectHint, m.logTerm);
    if (pr.maybeDecrTo(m.index, m.rejectHint, next)) r.needsFlush = true;
    return;
  }
  if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe')) {
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
      pr.growWindow();
    }
    maybeCommit(r);
    r.needsFlush = true;
    if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
      r.cfg.logger.info({ id: r.id, to: m.from }, 'raft: transferee caught up; sending timeoutNow');
      r.send('timeoutNow', m.from, r.term);
    }
  }
}

function handleHeartbeatResponse(r: Raft, m: Message): void {
  const pr = r.prs.get(m.from);
  if (pr === undefined) return;
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === 'snapshot' && r.ticks - pr.snapshotSentTick > SNAPSHOT_TIMEOUT_ELECTIONS * r.cfg.electionTicks) {
    // The driver should report the snapshot's fate (reportSnapshot); if it never does while the
    // follower keeps answering, assume the snapshot was lost and probe again.
    r.cfg.logger.warn({ id: r.id, to: m.from }, 'raft: no report on a snapshot sent long ago; probing again');
    pr.becomeProbe();
  }
  if (pr.match < r.log.lastIndex()) {
    // The follower lags: perhaps appends were lost. Free one window slot and send (even an
    // empty append) so a lost message turns into a rejection and a probe.
    if (pr.state === 'replicate' && pr.windowFull()) pr.inflights.freeFirstOne();
    pr.forceSend = true;
    r.needsFlush = true;
  }
  const round = decodeRound(m.context);
  if (round > 0 && !pr.learner) {
    r.readOnly.ack(m.from, round);
    releaseReads(r);
  }
}

/** Sends everything that is due: appends to each follower as the window allows. */
export function flush(r: Raft): void {
  if (r.role !== 'leader' || !r.needsFlush) return;
  r.needsFlush = false;
  for (const [id, pr] of r.prs) {
    for (let sent = 0; sent < r.cfg.maxInflightMessages; sent++) {
      if (!maybeSendAppend(r, id, pr, pr.forceSend || pr.sentCommit < r.log.committed)) break;
      if (pr.state !== 'replicate') break;
    }
  }
  if (r.readOnly.needsRound()) broadcastHeartbeat(r);
}

/** Sends one append (or a snapshot) to `to` when its progress allows; returns whether it sent. */
function maybeSendAppend(r: Raft, to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
  if (pr.isPaused()) return false;
  const log = r.log;
  const lastIndex = log.lastIndex();
  const prevIndex = pr.next - 1;
  const prevTerm = log.term(prevIndex);
  if (prevTerm < 0) return sendSnapshot(r, to, pr);
  let entries: readonly Entry[] = NO_ENTRIES;
  let bytes = 0;
  if (pr.next <= lastIndex) {
    const got = log.entries(pr.next, lastIndex + 1, r.cfg.maxMessageBytes);
    if (got === undefined) return sendSnapshot(r, to, pr);
    entries = got;
    for (let i = 0; i < got.length; i++) bytes += (got[i] as Entry).data.length;
  }
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send('append', to, r.term, { index: prevIndex, logTerm: prevTerm, entries, commit: log.committed });
  pr.sentEntries(prevIndex + entries.length, entries.length, bytes);
  pr.sentCommit = log.committed;
  pr.forceSend = false;
  return true;
}

function sendSnapshot(r: Raft, to: NodeId, pr: Progress): boolean {
  if (!pr.recentActive) return false;
  const snapshot = r.log.snapshot();
  if (snapshot.meta.index === 0) {
    r.cfg.logger.warn({ id: r.id, to }, 'raft: follower needs compacted entries but no snapshot is available');
    return false;
  }
  r.send('snapshot', to, r.term, { snapshot });
  pr.becomeSnapshot(snapshot.meta.index);
  pr.snapshotSentTick = r.ticks;
  r.cfg.logger.info({ id: r.id, to, index: snapshot.meta.index }, 'raft: sent snapshot');
  return true;
}

function broadcastHeartbeat(r: Raft): void {
  const context = encodeRound(r.readOnly.nextRound(r.ticks));
  for (const [id, pr] of r.prs) {
    r.send('heartbeat', id, r.term, { commit: Math.min(pr.match, r.log.committed), context });
  }
  // The leader acknowledges its own round.
  releaseReads(r);
}

// ---- reads -----------------------------------------------------------------------------------

export function leaderReadIndex(r: Raft, context: Uint8Array, from: NodeId): void {
  // A new leader does not know the commit index until it commits an entry of its term (§6.4).
  if (r.log.term(r.log.committed) !== r.term) {
    if (r.pendingReads.length >= MAX_PENDING_READS) r.failRead(context, from);
    else r.pendingReads.push({ context, from });
    return;
  }
  if (r.voters.length === 1 && r.voters[0] === r.id) {
    respondRead(r, { index: r.log.committed, context, from, round: 0 });
    return;
  }
  if (r.cfg.leaseReads && r.leadTransferee === '' && leaseValid(r)) {
    respondRead(r, { index: r.log.committed, context, from, round: 0 });
    return;
  }
  if (r.readOnly.size >= MAX_PENDING_READS) {
    r.failRead(context, from);
    return;
  }
  r.readOnly.add(r.log.committed, context, from);
  r.needsFlush = true;
}

/**
 * The lease: a quorum acknowledged a heartbeat sent at tick T, so each of them refuses votes
 * (leader stickiness) until at least T + electionTicks on its own clock. One tick of margin
 * absorbs the tick phase difference; clock-rate drift beyond that is the documented risk.
 */
function leaseValid(r: Raft): boolean {
  const round = confirmedRound(r);
  return r.ticks < r.readOnly.sentTick(round) + r.cfg.electionTicks - 1;
}

function confirmedRound(r: Raft): number {
  const ro = r.readOnly;
  return committedIndex(r.voters, (id) => (id === r.id ? ro.round : ro.ackedRound(id)), r.scratch);
}

function releaseReads(r: Raft): void {
  if (r.readOnly.size === 0) return;
  const released = r.readOnly.releaseUpTo(confirmedRound(r));
  if (released === undefined) return;
  for (const req of released) respondRead(r, req);
}

function respondRead(r: Raft, req: ReadRequest): void {
  if (req.from === r.id) r.readStates.push({ index: req.index, context: req.context });
  else r.send('readIndexResponse', req.from, r.term, { index: req.index, context: req.context });
}

// ---- leadership transfer ---------------------------------------------------------------------

export function transferLeadership(r: Raft, to: NodeId): void {
  if (to === r.id || !r.voters.includes(to)) {
    r.cfg.logger.info({ id: r.id, to }, 'raft: ignoring leadership transfer to a non-voter or self');
    return;
  }
  if (r.leadTransferee === to) return;
  const pr = r.prs.get(to);
  assert(pr !== undefined, 'every voter but the leader has a progress');
  r.leadTransferee = to;
  // The transfer must finish within one election timeout or it is aborted (tickLeader).
  r.electionElapsed = 0;
  if (pr.match === r.log.lastIndex()) r.send('timeoutNow', to, r.term);
  else r.needsFlush = true;
}

export function reportUnreachable(r: Raft, id: NodeId): void {
  const pr = r.prs.get(id);
  if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
}

export function reportSnapshot(r: Raft, id: NodeId, delivered: boolean): void {
  const pr = r.prs.get(id);
  if (pr === undefined || pr.state !== 'snapshot') return;
  if (!delivered) pr.pendingSnapshot = 0;
  // Wait for the follower's answer (or the next heartbeat) before probing again.
  pr.becomeProbe();
  pr.probeSent = true;
}
