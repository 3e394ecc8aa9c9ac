/**
 * Leader-local lease deadlines. Not replicated and not part of apply: the leader tracks when each
 * lease expires with an injected clock, renews on keep-alive, and proposes `leaseRevoke` for every
 * id `expired()` returns. On becoming leader, call `renewAll()` so no lease expires early because
 * of a failover (etcd semantics).
 */
export class LeaseExpiry {
  readonly #now: () => number;
  /** id → [ttlMs, deadline in clock ms]. */
  readonly #deadlines = new Map<number, { ttlMs: number; deadlineMs: number }>();

  /** @param now clock in milliseconds (e.g. `performance.now`), injected for tests. */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Start (or restart) tracking a lease with a full TTL from now. */
  track(id: number, ttlMs: number): void {
    this.#deadlines.set(id, { ttlMs, deadlineMs: this.#now() + ttlMs });
  }

  /** Reset the deadline to a full TTL; returns the remaining ms, or -1 if the lease is unknown. */
  renew(id: number): number {
    const d = this.#deadlines.get(id);
    if (d === undefined) return -1;
    d.deadlineMs = this.#now() + d.ttlMs;
    return d.ttlMs;
  }

  /** Remaining ms (0 once expired), or -1 if unknown. */
  remaining(id: number): number {
    const d = this.#deadlines.get(id);
    if (d === undefined) return -1;
    return Math.max(0, d.deadlineMs - this.#now());
  }

  forget(id: number): void {
    this.#deadlines.delete(id);
  }

  /** Give every tracked lease a fresh full TTL (new leader). */
  renewAll(): void {
    const now = this.#now();
    for (const d of this.#deadlines.values()) d.deadlineMs = now + d.ttlMs;
  }

  /** Ids whose deadline has passed, ascending. They stay tracked until `forget` (revoke applied). */
  expired(): number[] {
    const now = this.#now();
    const out: number[] = [];
    for (const [id, d] of this.#deadlines) if (d.deadlineMs <= now) out.push(id);
    return out.sort((a, b) => a - b);
  }
}
