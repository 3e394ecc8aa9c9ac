/**
 * The replicated half of leases: which leases exist (id, granted TTL) and which keys are attached
 * to each. Expiry is not decided here (see lease-expiry.ts): the leader turns an expired deadline
 * into a `leaseRevoke` command, so applying stays deterministic.
 */
import type { LeaseInfo } from './types.ts';

interface LeaseEntry {
  readonly ttlMs: number;
  /** Keys whose live record carries this lease. Iteration order is not relied on (sorted on output). */
  readonly keys: Set<string>;
}

export class Lessor {
  #leases = new Map<number, LeaseEntry>();

  has(id: number): boolean {
    return this.#leases.has(id);
  }

  get size(): number {
    return this.#leases.size;
  }

  grant(id: number, ttlMs: number): void {
    this.#leases.set(id, { ttlMs, keys: new Set() });
  }

  /** Forget the lease; returns its attached keys in key order (the caller deletes them). */
  revoke(id: number): string[] {
    const entry = this.#leases.get(id);
    if (entry === undefined) return [];
    this.#leases.delete(id);
    return [...entry.keys].sort();
  }

  /** Move `key` from lease `from` to lease `to` (0 = none); unknown leases are ignored. */
  move(key: string, from: number, to: number): void {
    if (from === to) return;
    if (from !== 0) this.#leases.get(from)?.keys.delete(key);
    if (to !== 0) this.#leases.get(to)?.keys.add(key);
  }

  info(id: number): LeaseInfo | undefined {
    const entry = this.#leases.get(id);
    if (entry === undefined) return undefined;
    return { id, ttlMs: entry.ttlMs, keys: [...entry.keys].sort() };
  }

  /** All leases, by id. */
  list(): LeaseInfo[] {
    return [...this.#leases.keys()].sort((a, b) => a - b).map((id) => this.info(id) as LeaseInfo);
  }

  /** [id, ttlMs] pairs by id: what a snapshot stores (keys are derived from the keyspace). */
  table(): number[] {
    const out: number[] = [];
    for (const id of [...this.#leases.keys()].sort((a, b) => a - b)) out.push(id, (this.#leases.get(id) as LeaseEntry).ttlMs);
    return out;
  }
}
