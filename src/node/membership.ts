/**
 * Member id → peer URL, plus the ids removed from the cluster. Raft owns who votes (its
 * ConfState); the driver owns how to reach each member. URLs travel in ConfChange.context when a
 * member is added and in every snapshot, so a member that restarts or installs a snapshot knows
 * every peer's address.
 *
 * Removed ids are replicated state too (applied from `removeNode` entries, kept in snapshots):
 * an id once removed is never accepted again (etcd's IsIDRemoved, FINDINGS F2). The snapshot's
 * member record carries them under {@link REMOVED_IDS_KEY}, a key no member id can be.
 */
import { MAX_NODE_ID_BYTES } from '../protocol/types.ts';
import type { ConfState, NodeId } from '../protocol/types.ts';
import type { Member } from './types.ts';

/**
 * The key under which the snapshot's member record (id → URL) holds the removed ids, as a JSON
 * array of strings. It is longer than MAX_NODE_ID_BYTES, so it can never collide with a member.
 */
export const REMOVED_IDS_KEY = `\u0000removed-ids${'\u0000'.repeat(MAX_NODE_ID_BYTES)}`;

export class Membership {
  readonly #urls = new Map<NodeId, string>();
  /** Ids removed from the cluster, forever (one per removal an operator made). */
  readonly #removed = new Set<NodeId>();

  constructor(initial: Readonly<Record<NodeId, string>> = {}) {
    for (const [id, url] of Object.entries(initial)) this.#urls.set(id, url);
  }

  url(id: NodeId): string | undefined {
    return this.#urls.get(id);
  }

  /** Whether `id` was removed from the cluster at some point (it can never join again). */
  isRemoved(id: NodeId): boolean {
    return this.#removed.has(id);
  }

  set(id: NodeId, url: string): void {
    if (url !== '' || !this.#urls.has(id)) this.#urls.set(id, url);
  }

  /** A `removeNode` change applied: forget the URL, remember the id as removed. */
  delete(id: NodeId): void {
    this.#urls.delete(id);
    this.#removed.add(id);
  }

  /** Replaces everything (snapshot install) with a record made by {@link toRecord}. */
  reset(record: Readonly<Record<NodeId, string>>): void {
    this.#urls.clear();
    this.#removed.clear();
    for (const [id, url] of Object.entries(record)) {
      if (id === REMOVED_IDS_KEY) for (const removed of parseRemoved(url)) this.#removed.add(removed);
      else this.#urls.set(id, url);
    }
  }

  /** Member id → URL, for the driver (no removed ids). */
  urls(): Record<NodeId, string> {
    return Object.fromEntries(this.#urls);
  }

  /** The snapshot form: id → URL, sorted, plus the removed ids under REMOVED_IDS_KEY. */
  toRecord(): Record<NodeId, string> {
    const entries = [...this.#urls.entries()];
    if (this.#removed.size > 0) entries.push([REMOVED_IDS_KEY, JSON.stringify([...this.#removed].sort())]);
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** The members of `conf`, voters first, each with its URL (`''` when unknown). */
  list(conf: ConfState): Member[] {
    return [
      ...conf.voters.map((id) => ({ id, url: this.#urls.get(id) ?? '', learner: false })),
      ...conf.learners.map((id) => ({ id, url: this.#urls.get(id) ?? '', learner: true })),
    ];
  }
}

/** The removed ids stored in a snapshot; an unreadable value yields none (older snapshots have none). */
function parseRemoved(json: string): NodeId[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return [];
  }
  return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string') : [];
}
