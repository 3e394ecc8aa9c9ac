/**
 * Member id → peer URL. Raft owns who votes (its ConfState); the driver owns how to reach each
 * member. URLs travel in ConfChange.context when a member is added and in every snapshot, so a
 * member that restarts or installs a snapshot knows every peer's address.
 */
import type { ConfState, NodeId } from '../protocol/types.ts';
import type { Member } from './types.ts';

export class Membership {
  readonly #urls = new Map<NodeId, string>();

  constructor(initial: Readonly<Record<NodeId, string>> = {}) {
    for (const [id, url] of Object.entries(initial)) this.#urls.set(id, url);
  }

  url(id: NodeId): string | undefined {
    return this.#urls.get(id);
  }

  set(id: NodeId, url: string): void {
    if (url !== '' || !this.#urls.has(id)) this.#urls.set(id, url);
  }

  delete(id: NodeId): void {
    this.#urls.delete(id);
  }

  /** Replaces everything (snapshot install). */
  reset(urls: Readonly<Record<NodeId, string>>): void {
    this.#urls.clear();
    for (const [id, url] of Object.entries(urls)) this.#urls.set(id, url);
  }

  toRecord(): Record<NodeId, string> {
    return Object.fromEntries([...this.#urls.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** The members of `conf`, voters first, each with its URL (`''` when unknown). */
  list(conf: ConfState): Member[] {
    return [
      ...conf.voters.map((id) => ({ id, url: this.#urls.get(id) ?? '', learner: false })),
      ...conf.learners.map((id) => ({ id, url: this.#urls.get(id) ?? '', learner: true })),
    ];
  }
}
