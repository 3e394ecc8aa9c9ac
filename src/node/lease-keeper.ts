/**
 * Leader-side lease deadlines and the keep-alive/TTL queries that reach them (docs/design.md,
 * "Lease path"). Only the leader holds a `LeaseExpiry`; on becoming leader it tracks every lease with a
 * fresh full TTL, so a failover never expires a lease early. Followers forward queries to the
 * leader over the `lease` app-message channel ({@link LeaseRpc}).
 */
import { LeaseNotFoundError, NoLeaderError, StoppedError, TimeoutError } from '../errors.ts';
import type { QuorumError } from '../errors.ts';
import type { AppMessage, NodeId } from '../protocol/types.ts';
import { LeaseExpiry } from '../store/lease-expiry.ts';
import { withDeadline } from './deadline.ts';
import { decodeLeasePayload, LeaseRpc } from './leases.ts';
import type { LeaseOp, LeaseReply } from './leases.ts';
import type { CallOptions, Logger } from './types.ts';

/** What the keeper needs from the driver. */
export interface LeaseKeeperHost {
  readonly self: NodeId;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
  /** A revoke proposal that did not apply is retried after this long. */
  readonly retryMs: number;
  readonly logger: Logger;
  stopped(): boolean;
  isLeader(): boolean;
  leader(): NodeId;
  /** The lease as applied on this member. */
  lease(id: number): { readonly ttlMs: number } | undefined;
  waitForLeader(options: CallOptions): Promise<void>;
  send(to: NodeId, message: AppMessage): void;
  proposeRevoke(id: number): void;
}

export class LeaseKeeper {
  readonly #host: LeaseKeeperHost;
  readonly #rpc: LeaseRpc;
  // Invariant: defined only while this member is the leader.
  #expiry: LeaseExpiry | undefined;
  /** Lease id → clock ms when its revoke was proposed. */
  readonly #revoking = new Map<number, number>();

  constructor(host: LeaseKeeperHost) {
    this.#host = host;
    this.#rpc = new LeaseRpc(host.self, (to, msg) => host.send(to, msg));
  }

  /** This member became leader: every lease gets a fresh full TTL. */
  becomeLeader(leases: readonly { readonly id: number; readonly ttlMs: number }[]): void {
    const expiry = new LeaseExpiry(this.#host.now);
    for (const lease of leases) expiry.track(lease.id, lease.ttlMs);
    this.#expiry = expiry;
    this.#revoking.clear();
  }

  stepDown(): void {
    this.#expiry = undefined;
  }

  onGrant(id: number, ttlMs: number): void {
    this.#expiry?.track(id, ttlMs);
  }

  onRevoke(id: number): void {
    this.#expiry?.forget(id);
    this.#revoking.delete(id);
  }

  /** On the leader, proposes a revoke for every expired lease (once per `retryMs`). */
  expire(now: number): void {
    const expiry = this.#expiry;
    if (expiry === undefined || !this.#host.isLeader()) return;
    for (const id of expiry.expired()) {
      const since = this.#revoking.get(id);
      if (since !== undefined && now - since < this.#host.retryMs) continue;
      this.#revoking.set(id, now);
      this.#host.proposeRevoke(id);
    }
  }

  /** Keep-alive (`keepAlive`) or TTL query, answered by the leader; LeaseNotFoundError if gone. */
  async query(op: LeaseOp, id: number, options?: CallOptions): Promise<LeaseReply> {
    const host = this.#host;
    if (host.stopped()) throw new StoppedError();
    const deadline = Date.now() + (options?.timeoutMs ?? host.requestTimeoutMs);
    for (;;) {
      await host.waitForLeader(remaining(options, deadline));
      let reply: LeaseReply;
      if (host.isLeader()) reply = this.#answer(op, id);
      else {
        try {
          reply = await withDeadline<LeaseReply>(
            remaining(options, deadline),
            host.requestTimeoutMs,
            () => new TimeoutError(`node: lease ${op} got no answer from the leader`),
            (resolve, reject) => {
              this.#rpc.request(host.leader(), op, id, Math.max(1, deadline - Date.now())).then(resolve, reject);
              return () => {};
            },
          );
        } catch (err) {
          if (err instanceof NoLeaderError && Date.now() < deadline) continue; // Asked a stale leader.
          throw err;
        }
      }
      if (reply.remainingMs < 0) throw new LeaseNotFoundError(id);
      return reply;
    }
  }

  #answer(op: LeaseOp, id: number): LeaseReply {
    const expiry = this.#expiry;
    const info = this.#host.lease(id);
    if (expiry === undefined || info === undefined) return { remainingMs: -1, grantedTtlMs: 0 };
    let remainingMs = op === 'keepAlive' ? expiry.renew(id) : expiry.remaining(id);
    if (remainingMs < 0) {
      // Applied here but not yet tracked (the grant raced the election): track it with a full TTL.
      expiry.track(id, info.ttlMs);
      remainingMs = info.ttlMs;
    }
    return { remainingMs, grantedTtlMs: info.ttlMs };
  }

  /** A message on the `lease` channel: a request to answer (if leader) or a reply to deliver. */
  onMessage(from: NodeId, payloadBytes: Uint8Array): void {
    let payload: ReturnType<typeof decodeLeasePayload>;
    try {
      payload = decodeLeasePayload(payloadBytes);
    } catch (err) {
      this.#host.logger.warn({ err, from }, 'node: dropped a bad lease message');
      return;
    }
    if (payload.kind === 'res') this.#rpc.onReply(payload);
    else if (!this.#host.isLeader()) this.#rpc.reply(from, payload.req, 'notLeader');
    else this.#rpc.reply(from, payload.req, this.#answer(payload.op, payload.id));
  }

  rejectAll(err: QuorumError): void {
    this.#rpc.rejectAll(err);
  }
}

function remaining(options: CallOptions | undefined, deadline: number): CallOptions {
  const timeoutMs = Math.max(1, deadline - Date.now());
  return options?.signal === undefined ? { timeoutMs } : { timeoutMs, signal: options.signal };
}
