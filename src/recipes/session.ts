/**
 * Session: a lease kept alive in the background, the thing locks, elections and registrations
 * hang off (etcd's `concurrency.Session`). When the lease is gone — expired or revoked, as the
 * node reports it or a keep-alive answers `LeaseNotFound` — the session is `lost`: it emits `lost`
 * once and aborts `signal`, so work guarded by it can stop at once (docs/design.md, "Known
 * pitfalls": undetected lease loss). A keep-alive that merely fails (`TimeoutError`, `NoLeaderError` during a failover) is
 * retried and never declares the lease lost by itself: a new leader renews every lease to its full
 * TTL, so the lease outlives the failover, and a false `lost` would drop locks and leaders for
 * nothing. While the cluster cannot be reached, `unconfirmedMs` says how long the lease has gone
 * unconfirmed; fence protected writes with `cmp.owns`, which is safe either way.
 */
import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import { InvalidArgumentError, LeaseNotFoundError, LockLostError, StoppedError } from '../errors.ts';
import type { QuorumNode } from '../node/node.ts';
import { isTransient } from './util.ts';

/** Default session TTL in ms. */
export const DEFAULT_SESSION_TTL_MS = 10_000;
/** Shortest keep-alive period in ms (a floor, so a tiny TTL cannot spin the loop). */
export const MIN_KEEP_ALIVE_INTERVAL_MS = 50;

export interface SessionOptions {
  /** Lease TTL in ms. The cluster may raise it to its floor (1.5 × election timeout). @default 10_000 */
  readonly ttlMs?: number;
  /**
   * Resume this existing lease instead of granting a new one — after a restart, so locks and
   * campaigns keyed by the lease id are found again. Rejects with `LeaseNotFoundError` if it is gone.
   */
  readonly leaseId?: number;
  /**
   * Period of the keep-alive calls in ms (floor 50); must be below `ttlMs`, or the lease expires
   * between two calls. Each call also gives up after this long, so a lost request is retried in
   * time. @default ttlMs / 3
   */
  readonly keepAliveIntervalMs?: number;
  /** Aborts the initial grant/confirm call. */
  readonly signal?: AbortSignal;
}

export interface SessionEvents {
  /** The lease is gone (the node saw it expire or be revoked, or a keep-alive found it missing). Emitted once. */
  lost: [error: LockLostError];
  /** `close()` finished. */
  closed: [];
}

/** One in-process user's reservation of a key on a session (see {@link Session.claim}). */
interface Claim {
  /** Called once when the session is lost while the claim is held. */
  onLost: ((error: LockLostError) => void) | undefined;
}

/** A lease with automatic keep-alive. Create with {@link createSession}. */
export class Session extends EventEmitter<SessionEvents> {
  readonly node: QuorumNode;
  readonly leaseId: number;
  /** The TTL asked for, in ms. */
  readonly ttlMs: number;
  readonly #intervalMs: number;
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Local time (ms) a keep-alive last confirmed the lease; it cannot have expired before this + ttlMs. */
  #confirmedAtMs: number;
  #state: 'open' | 'lost' | 'closed' = 'open';
  /**
   * Keys (lock/election keys) this session is queued on or holds in this process, each with the
   * holder's loss callback once it holds; see {@link claim}. A Map rather than one `lost` listener
   * per holder: adding and removing a holder stays O(1) however many share the session (eventemitter3
   * removes a listener by copying the listener array).
   */
  readonly #claims = new Map<string, Claim>();

  constructor(node: QuorumNode, leaseId: number, ttlMs: number, keepAliveIntervalMs: number) {
    super();
    this.node = node;
    this.leaseId = leaseId;
    this.ttlMs = ttlMs;
    this.#intervalMs = keepAliveIntervalMs;
    this.#confirmedAtMs = Date.now();
    // Every lock, campaign and wait on this session listens to its signal: no listener cap.
    setMaxListeners(0, this.#controller.signal);
    this.#schedule(this.#intervalMs);
  }

  /** Aborted (with a `LockLostError` or `StoppedError` reason) when the session is lost or closed. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get isLost(): boolean {
    return this.#state === 'lost';
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** True while the lease is believed alive and `close()` has not been called. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /**
   * Ms since a keep-alive last confirmed the lease. Above `ttlMs`, the cluster has been out of
   * reach for longer than the TTL: the lease may have expired there (or been renewed by a new
   * leader); the session stays open until it learns which.
   */
  get unconfirmedMs(): number {
    return Math.max(0, Date.now() - this.#confirmedAtMs);
  }

  /**
   * Reserves `key` for one in-process user of this session: two locks on the same name through the
   * same session would share one lock key, so both would believe they hold it. Returns a release fn.
   */
  claim(key: string): () => void {
    if (this.#claims.has(key)) {
      throw new InvalidArgumentError(`recipes: session ${this.leaseId} is already waiting on or holding ${key}; use one session per concurrent holder`);
    }
    const claim: Claim = { onLost: undefined };
    this.#claims.set(key, claim);
    // Gives back this claim only: a no-op once the key was given back (or claimed anew since).
    return () => {
      if (this.#claims.get(key) === claim) this.#claims.delete(key);
    };
  }

  /**
   * Calls `onLost` (after the session's own `lost` listeners) if the session is lost while `key`
   * is still claimed: how a holder learns of the loss without a listener of its own. A no-op if
   * `key` is not claimed.
   */
  notifyLost(key: string, onLost: (error: LockLostError) => void): void {
    const claim = this.#claims.get(key);
    if (claim !== undefined) claim.onLost = onLost;
  }

  /** Declares the lease gone: stops keep-alive, aborts `signal`, emits `lost`. Idempotent. */
  markLost(reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'lost';
    this.#stopTimer();
    const error = new LockLostError(`session: lease ${this.leaseId} lost: ${reason}`);
    this.#controller.abort(error);
    // The lease may still exist on the cluster (we only know we could not confirm it): revoke it so
    // the keys it guards are released now instead of at expiry. Failure changes nothing.
    this.node.revokeLease(this.leaseId).catch(() => undefined);
    this.emit('lost', error);
    // A copy: a holder's callback gives its claim back.
    for (const claim of [...this.#claims.values()]) claim.onLost?.(error);
  }

  /** Stops the keep-alive and revokes the lease (deleting every key attached to it). Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.#stopTimer();
    if (!this.#controller.signal.aborted) this.#controller.abort(new StoppedError(`session: lease ${this.leaseId} closed`));
    if (wasOpen) {
      try {
        await this.node.revokeLease(this.leaseId);
      } catch (err) {
        // Already gone is the outcome we wanted; a stopped node cannot revoke (the lease expires).
        if (!(err instanceof LeaseNotFoundError) && !(err instanceof StoppedError)) throw err;
      }
    }
    this.emit('closed');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => void this.#keepAlive(), delayMs);
    // The node keeps the process alive while it runs; a session alone should not.
    this.#timer.unref();
  }

  async #keepAlive(): Promise<void> {
    this.#timer = undefined;
    if (this.#state !== 'open') return;
    const sentAtMs = Date.now();
    try {
      // Bounded by the period, so a request lost in a failover is retried before the TTL runs out.
      const remainingMs = await this.node.keepAliveLease(this.leaseId, { timeoutMs: this.#intervalMs });
      if (this.#state !== 'open') return;
      if (remainingMs <= 0) {
        this.markLost('keep-alive found the lease expired');
        return;
      }
      this.#confirmedAtMs = sentAtMs;
      this.#schedule(this.#intervalMs);
    } catch (err) {
      if (this.#state !== 'open') return;
      if (err instanceof LeaseNotFoundError) {
        this.markLost('the lease no longer exists');
        return;
      }
      if (err instanceof StoppedError) {
        this.markLost('the node stopped');
        return;
      }
      // Anything else (no leader, timeout, unreachable) says nothing about the lease: a new leader
      // renews every lease to its full TTL, so it outlives a failover. Retry soon; only the cluster
      // saying the lease is gone makes the session lost.
      this.#schedule(isTransient(err) ? Math.max(MIN_KEEP_ALIVE_INTERVAL_MS, Math.min(this.#intervalMs, this.ttlMs / 10)) : this.#intervalMs);
    }
  }
}

/**
 * Grants a lease (or resumes `leaseId`) and keeps it alive until `close()` or loss.
 *
 * ```ts
 * await using session = await createSession(node, { ttlMs: 5_000 });
 * session.on('lost', (err) => console.error(err.message));
 * ```
 */
export async function createSession(node: QuorumNode, options: SessionOptions = {}): Promise<Session> {
  const ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new InvalidArgumentError('session: ttlMs must be a positive number');
  if (options.keepAliveIntervalMs !== undefined && !(options.keepAliveIntervalMs > 0 && options.keepAliveIntervalMs < ttlMs)) {
    throw new InvalidArgumentError('session: keepAliveIntervalMs must be a positive number below ttlMs (the lease would expire between keep-alives)');
  }
  const intervalMs = Math.max(MIN_KEEP_ALIVE_INTERVAL_MS, options.keepAliveIntervalMs ?? Math.floor(ttlMs / 3));
  const call = options.signal === undefined ? {} : { signal: options.signal };
  if (options.leaseId !== undefined) {
    const remainingMs = await node.keepAliveLease(options.leaseId, call);
    if (remainingMs <= 0) throw new LeaseNotFoundError(options.leaseId);
    return new Session(node, options.leaseId, ttlMs, intervalMs);
  }
  const lease = await node.grantLease(ttlMs, call);
  const session = new Session(node, lease.id, ttlMs, intervalMs);
  // The node tells us at once when it sees the lease revoked or expired.
  lease.on('expired', () => session.markLost('the lease expired'));
  return session;
}
