/**
 * Every member's attributes (member-attributes.ts: name, peer URLs, client URLs), plus the ids
 * removed from the cluster. Raft owns who votes (its ConfState); this is how to reach each member
 * and what to show of it. Peer URLs travel in ConfChange.context when a member is added and in
 * every snapshot, so a member that restarts or installs a snapshot knows every peer's address;
 * names and client URLs are published by each member and kept in snapshots too.
 *
 * Removed ids are replicated state too (applied from `removeNode` entries, kept in snapshots):
 * an id once removed is never accepted again (etcd's IsIDRemoved, FINDINGS F2). The snapshot's
 * member record is id → first peer URL (the form every version reads), with the removed ids under
 * {@link REMOVED_IDS_KEY} and the full attributes under {@link ATTRIBUTES_KEY}, keys no member id
 * can be. A record without the attributes key (older snapshots) gives each member its one URL.
 */
import { MAX_NODE_ID_BYTES } from '../protocol/types.ts';
import type { ConfState, NodeId } from '../protocol/types.ts';
import { parseAttributesRecord, sameUrls } from './member-attributes.ts';
import type { AttributesCommand, AttributesResult, MemberAttributes } from './member-attributes.ts';
import type { Member } from './types.ts';

/**
 * The key under which the snapshot's member record (id → URL) holds the removed ids, as a JSON
 * array of strings. It is longer than MAX_NODE_ID_BYTES, so it can never collide with a member.
 */
export const REMOVED_IDS_KEY = `\u0000removed-ids${'\u0000'.repeat(MAX_NODE_ID_BYTES)}`;

/** The key under which the snapshot's member record holds every member's attributes, as JSON. */
export const ATTRIBUTES_KEY = `\u0000attributes${'\u0000'.repeat(MAX_NODE_ID_BYTES)}`;

export class Membership {
  readonly #members = new Map<NodeId, MemberAttributes>();
  /** Ids removed from the cluster, forever (one per removal an operator made). */
  readonly #removed = new Set<NodeId>();

  constructor(initial: Readonly<Record<NodeId, string>> = {}) {
    this.reset(initial);
  }

  /** The URL the transport dials for `id` (its first peer URL; `''` when unknown). */
  url(id: NodeId): string | undefined {
    const m = this.#members.get(id);
    return m === undefined ? undefined : (m.peerUrls[0] ?? '');
  }

  attributes(id: NodeId): MemberAttributes | undefined {
    return this.#members.get(id);
  }

  /** Whether `id` was removed from the cluster at some point (it can never join again). */
  isRemoved(id: NodeId): boolean {
    return this.#removed.has(id);
  }

  /**
   * A member added (an applied add change, or an initial member): its peer URLs, and its name
   * when the change carried one. Empty `peerUrls` keep the URLs already known.
   */
  add(id: NodeId, peerUrls: readonly string[], name?: string): void {
    const held = this.#members.get(id);
    const urls = peerUrls.length > 0 || held === undefined ? [...peerUrls] : held.peerUrls;
    const named = name ?? held?.name;
    this.#members.set(id, { ...(named === undefined ? {} : { name: named }), peerUrls: urls, clientUrls: held?.clientUrls ?? [] });
  }

  /** The single-URL form of {@link add}. */
  set(id: NodeId, url: string): void {
    this.add(id, url === '' ? [] : [url]);
  }

  /** Applies a committed attributes command (publish or update). */
  applyAttributes(cmd: AttributesCommand): AttributesResult {
    const held = this.#members.get(cmd.member);
    const type = 'memberAttributes';
    if (held === undefined) return { type, member: cmd.member, known: false };
    const peerUrls = cmd.peerUrls ?? held.peerUrls;
    const name = cmd.name ?? held.name;
    this.#members.set(cmd.member, { ...(name === undefined ? {} : { name }), peerUrls: [...peerUrls], clientUrls: [...(cmd.clientUrls ?? held.clientUrls)] });
    const first = peerUrls[0];
    const changed = first !== undefined && !sameUrls(peerUrls, held.peerUrls);
    return changed ? { type, member: cmd.member, known: true, peerUrl: first } : { type, member: cmd.member, known: true };
  }

  /** A `removeNode` change applied: forget the member, remember the id as removed. */
  delete(id: NodeId): void {
    this.#members.delete(id);
    this.#removed.add(id);
  }

  /** Replaces everything (snapshot install) with a record made by {@link toRecord}. */
  reset(record: Readonly<Record<NodeId, string>>): void {
    this.#members.clear();
    this.#removed.clear();
    const attributesJson = record[ATTRIBUTES_KEY];
    const attributes = attributesJson === undefined ? new Map<NodeId, MemberAttributes>() : parseAttributesRecord(attributesJson);
    for (const [id, url] of Object.entries(record)) {
      if (id === REMOVED_IDS_KEY) for (const removed of parseRemoved(url)) this.#removed.add(removed);
      else if (id !== ATTRIBUTES_KEY) {
        const held = attributes.get(id);
        // The plain id → URL entry is authoritative for the dial URL; the attributes add the rest.
        const peerUrls = held !== undefined && held.peerUrls[0] === url ? held.peerUrls : url === '' ? [] : [url];
        this.#members.set(id, { ...(held?.name === undefined ? {} : { name: held.name }), peerUrls, clientUrls: held?.clientUrls ?? [] });
      }
    }
  }

  /** Member id → dial URL, for the driver (no removed ids). */
  urls(): Record<NodeId, string> {
    return Object.fromEntries([...this.#members].map(([id, m]) => [id, m.peerUrls[0] ?? '']));
  }

  /** The snapshot form: id → URL, sorted, plus the removed ids and the attributes under their keys. */
  toRecord(): Record<NodeId, string> {
    const entries: [string, string][] = [...this.#members].map(([id, m]) => [id, m.peerUrls[0] ?? '']);
    if (this.#removed.size > 0) entries.push([REMOVED_IDS_KEY, JSON.stringify([...this.#removed].sort())]);
    if (this.#members.size > 0) {
      const ids = [...this.#members.keys()].sort();
      entries.push([ATTRIBUTES_KEY, JSON.stringify(Object.fromEntries(ids.map((id) => [id, this.#members.get(id)])))]);
    }
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** The members of `conf`, voters first, each with its attributes (a member with none published is named by its id). */
  list(conf: ConfState): Member[] {
    return [...conf.voters.map((id) => this.#member(id, false)), ...conf.learners.map((id) => this.#member(id, true))];
  }

  #member(id: NodeId, learner: boolean): Member {
    const m = this.#members.get(id);
    const peerUrls = m?.peerUrls ?? [];
    return { id, name: m?.name ?? id, url: peerUrls[0] ?? '', peerUrls: [...peerUrls], clientUrls: [...(m?.clientUrls ?? [])], learner };
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
