/**
 * `node.cluster`: the membership API of a member — list, add (voter or learner, one or more peer
 * URLs, an optional name), update a member's peer URLs (etcd's MemberUpdate), promote, remove,
 * hand leadership over — and `advertise()`, the client URLs this member publishes. Every member's
 * attributes are replicated state (member-attributes.ts), so any member answers `members()` for
 * the whole cluster.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, LearnerNotReadyError, MemberExistsError, NotEnoughStartedMembersError, MemberNotFoundError, QuorumError } from '../errors.ts';
import type { NodeId } from '../protocol/types.ts';
import { callOf } from './deadline.ts';
import type { Driver } from './driver.ts';
import { checkMemberName, checkMemberUrls, CLIENT_PROTOCOLS, PEER_PROTOCOLS } from './member-attributes.ts';
import { checkMemberId } from './options.ts';
import type { CallOptions, Member } from './types.ts';

export interface AddMemberOptions extends CallOptions {
  /** Add as a learner (the safe way to join a running cluster). @default false */
  readonly learner?: boolean;
  /**
   * The name the cluster shows until the member publishes its own; `''` lists it as not started
   * (etcd's MemberAdd). @default the member's id
   */
  readonly name?: string;
}

export interface ClusterApi {
  /** Every member with its attributes (this member's view of the applied state). */
  members(options?: CallOptions): Promise<Member[]>;
  /**
   * Adds a member reachable at `url` (a ws:// or wss:// peer URL, or up to MAX_MEMBER_URLS of
   * them: the first is dialled). No other member may have one of these peer URLs.
   */
  add(id: NodeId, url: string | readonly string[], options?: AddMemberOptions): Promise<void>;
  /**
   * etcd's MemberAdd, which carries no name: adds a member under a generated id ({@link newMemberId})
   * with the name `''` (listed as not started). The new member finds its id by its peer URL in
   * the member list (the `quorumkv member` of `--initial-cluster-state existing` does) and then
   * publishes its name. Resolves with the member as added.
   */
  addByPeerUrls(peerUrls: readonly string[], options?: CallOptions & { readonly learner?: boolean }): Promise<Member>;
  /** Replaces member `id`'s peer URLs (etcd's MemberUpdate); every member dials the new first URL. */
  update(id: NodeId, peerUrls: readonly string[], options?: CallOptions): Promise<void>;
  /** Makes a caught-up learner a voter. */
  promote(id: NodeId, options?: CallOptions): Promise<void>;
  remove(id: NodeId, options?: CallOptions): Promise<void>;
  /** Hands leadership to voter `id`; resolves when it leads. */
  transferLeadership(id: NodeId, options?: CallOptions): Promise<void>;
  /**
   * The client URLs (http:// or https://) this member publishes to the cluster, through the log
   * once a leader is known and again whenever they change. The client endpoint calls it.
   */
  advertise(clientUrls: readonly string[]): void;
}

/**
 * A fresh member id: `m-` and 16 random hex digits. Random rather than derived from the peer URL,
 * because a removed id can never come back and a replaced member often reuses its peer URL.
 */
export function newMemberId(): NodeId {
  return `m-${randomBytes(8).toString('hex')}`;
}

function asArgument<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof QuorumError) throw err;
    throw new InvalidArgumentError((err as Error).message.replace(/^createNode: /, 'cluster: '), { cause: err });
  }
}

/** Throws MemberExistsError when a member other than `except` already has one of `peerUrls`. */
function checkPeerUrlsFree(members: readonly Member[], peerUrls: readonly string[], except?: NodeId): void {
  for (const m of members) {
    if (m.id === except) continue;
    const taken = peerUrls.find((url) => m.peerUrls.includes(url));
    if (taken !== undefined) throw new MemberExistsError(`with peer URL ${taken} (${m.id})`);
  }
}

/** Share of the leader's last index a learner's match index must reach to be promoted (etcd's readyPercent). */
const LEARNER_READY_FRACTION = 0.9;

/**
 * On the leader (the only member that knows every follower's progress), refuses to promote a
 * learner far behind: as a voter it would count towards quorum while it cannot yet help commit.
 */
function checkLearnerReady(driver: Driver, id: NodeId): void {
  const st = driver.raftStatus();
  const progress = st.progress?.[id];
  if (progress === undefined || !progress.learner) return;
  if (progress.match < st.lastIndex * LEARNER_READY_FRACTION) throw new LearnerNotReadyError(id);
}

/**
 * etcd's strict reconfiguration check: a change that adds a voter (an add or a promote) must
 * leave a quorum of the new voters among the started ones — those that have a name, which a
 * member added by MemberAdd gets only when it starts. A cluster of one may add its second.
 */
function checkEnoughStarted(members: readonly Member[]): void {
  const voters = members.filter((m) => !m.learner);
  const started = voters.filter((m) => m.name !== '').length;
  const after = voters.length + 1;
  if (started === 1 && after === 2) return;
  if (started < Math.floor(after / 2) + 1) throw new NotEnoughStartedMembersError(started, after);
}

/** The same check for removing voter `id`: the started voters left must make a quorum of the voters left. */
function checkEnoughStartedWithout(members: readonly Member[], id: NodeId): void {
  const removed = members.find((m) => m.id === id);
  if (removed === undefined || removed.learner) return;
  const voters = members.filter((m) => !m.learner && m.id !== id);
  const started = voters.filter((m) => m.name !== '').length;
  if (voters.length > 0 && started < Math.floor(voters.length / 2) + 1) throw new NotEnoughStartedMembersError(started, voters.length);
}

export function clusterApi(driver: Driver, name: string, checkOpen: () => void): ClusterApi {
  return Object.freeze({
    members: async (options?: CallOptions): Promise<Member[]> => {
      checkOpen();
      void options;
      return driver.members();
    },
    add: async (id: NodeId, url: string | readonly string[], options: AddMemberOptions = {}): Promise<void> => {
      checkOpen();
      const memberId = asArgument(() => checkMemberId(id, 'member id'));
      const peerUrls = checkMemberUrls(typeof url === 'string' ? [url] : url, 'member url', PEER_PROTOCOLS, false);
      const memberName = options.name === undefined ? undefined : checkMemberName(options.name, 'member name');
      const members = driver.members();
      checkPeerUrlsFree(members, peerUrls);
      if (options.learner !== true) checkEnoughStarted(members);
      const call = { ...callOf(options), ...(memberName === undefined ? {} : { name: memberName }) };
      await driver.confChange(options.learner === true ? 'addLearner' : 'addVoter', memberId, peerUrls, call);
    },
    addByPeerUrls: async (peerUrls: readonly string[], options: CallOptions & { readonly learner?: boolean } = {}): Promise<Member> => {
      checkOpen();
      const urls = checkMemberUrls(peerUrls, 'peerUrls', PEER_PROTOCOLS, false);
      const members = driver.members();
      checkPeerUrlsFree(members, urls);
      const learner = options.learner === true;
      if (!learner) checkEnoughStarted(members);
      const id = newMemberId();
      await driver.confChange(learner ? 'addLearner' : 'addVoter', id, urls, { ...callOf(options), name: '' });
      return { id, name: '', url: urls[0] ?? '', peerUrls: urls, clientUrls: [], learner };
    },
    update: async (id: NodeId, peerUrls: readonly string[], options?: CallOptions): Promise<void> => {
      checkOpen();
      const urls = checkMemberUrls(peerUrls, 'peerUrls', PEER_PROTOCOLS, false);
      const members = driver.members();
      if (!members.some((m) => m.id === id)) throw new MemberNotFoundError(id);
      checkPeerUrlsFree(members, urls, id);
      const result = await driver.proposeAttributes({ member: id, peerUrls: urls }, callOf(options));
      if (!result.known) throw new MemberNotFoundError(id);
    },
    promote: async (id: NodeId, options?: CallOptions): Promise<void> => {
      checkOpen();
      checkLearnerReady(driver, id);
      checkEnoughStarted(driver.members());
      await driver.confChange('promoteLearner', id, [], callOf(options));
    },
    remove: async (id: NodeId, options?: CallOptions): Promise<void> => {
      checkOpen();
      checkEnoughStartedWithout(driver.members(), id);
      await driver.confChange('removeNode', id, [], callOf(options));
    },
    transferLeadership: async (id: NodeId, options?: CallOptions): Promise<void> => {
      checkOpen();
      await driver.transferLeadership(id, callOf(options));
    },
    advertise: (clientUrls: readonly string[]): void => {
      driver.advertise(name, checkMemberUrls(clientUrls, 'clientUrls', CLIENT_PROTOCOLS, true));
    },
  });
}
