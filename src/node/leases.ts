/**
 * Lease handles and the leader-local lease RPC.
 *
 * Only the leader knows lease deadlines (a `LeaseExpiry` with the injected clock). KeepAlive and
 * TTL queries from a follower travel to the leader as driver-to-driver AppMessages on channel
 * `lease` (Raft never sees them) and the leader answers on the same channel. Requests carry a
 * number; a reply that comes back late (after the caller's timeout) is ignored.
 */
import { EventEmitter } from 'eventemitter3';
import { LeaseNotFoundError, NoLeaderError, ProtocolError, QuorumError, TimeoutError } from '../errors.ts';
import type { AppMessage, NodeId } from '../protocol/types.ts';
import { pack, unpack } from './codec.ts';
import type { CallOptions, LeaseTimeToLive } from './types.ts';

export const LEASE_CHANNEL = 'lease';

export type LeaseOp = 'keepAlive' | 'timeToLive';

export interface LeaseReply {
  /** Remaining ms (keepAlive: the fresh TTL); -1 = lease not found. */
  readonly remainingMs: number;
  readonly grantedTtlMs: number;
}

interface RequestPayload {
  readonly kind: 'req';
  readonly req: number;
  readonly op: LeaseOp;
  readonly id: number;
}

interface ReplyPayload {
  readonly kind: 'res';
  readonly req: number;
  readonly remainingMs: number;
  readonly grantedTtlMs: number;
  /** Set when the receiver is not the leader and cannot answer. */
  readonly notLeader?: boolean;
}

export function decodeLeasePayload(bytes: Uint8Array): RequestPayload | ReplyPayload {
  const raw = unpack(bytes, 'lease message') as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object' || typeof raw['req'] !== 'number') throw new ProtocolError('node: bad lease message');
  if (raw['kind'] === 'req' && (raw['op'] === 'keepAlive' || raw['op'] === 'timeToLive') && typeof raw['id'] === 'number') {
    return { kind: 'req', req: raw['req'], op: raw['op'], id: raw['id'] };
  }
  if (raw['kind'] === 'res' && typeof raw['remainingMs'] === 'number' && typeof raw['grantedTtlMs'] === 'number') {
    return { kind: 'res', req: raw['req'], remainingMs: raw['remainingMs'], grantedTtlMs: raw['grantedTtlMs'], notLeader: raw['notLeader'] === true };
  }
  throw new ProtocolError('node: bad lease message kind');
}

/** Follower side: requests to the leader and their replies. */
export class LeaseRpc {
  readonly #self: NodeId;
  readonly #send: (to: NodeId, msg: AppMessage) => void;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: (r: LeaseReply) => void; reject: (e: QuorumError) => void }>();

  constructor(self: NodeId, send: (to: NodeId, msg: AppMessage) => void) {
    this.#self = self;
    this.#send = send;
  }

  /** Asks `leader`; resolves with its reply, rejects after `timeoutMs` with TimeoutError. */
  request(leader: NodeId, op: LeaseOp, id: number, timeoutMs: number): Promise<LeaseReply> {
    this.#seq += 1;
    const req = this.#seq;
    return new Promise<LeaseReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(req);
        reject(new TimeoutError(`node: lease ${op} got no answer from the leader (${leader})`));
      }, timeoutMs);
      this.#pending.set(req, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const payload: RequestPayload = { kind: 'req', req, op, id };
      this.#send(leader, { type: 'app', from: this.#self, to: leader, channel: LEASE_CHANNEL, payload: pack(payload) });
    });
  }

  /** Handles a reply; requests are answered by the node (it owns the lease deadlines). */
  onReply(payload: ReplyPayload): void {
    const pending = this.#pending.get(payload.req);
    if (pending === undefined) return;
    this.#pending.delete(payload.req);
    if (payload.notLeader === true) pending.reject(new NoLeaderError('node: the member asked is no longer the leader'));
    else pending.resolve({ remainingMs: payload.remainingMs, grantedTtlMs: payload.grantedTtlMs });
  }

  reply(to: NodeId, req: number, reply: LeaseReply | 'notLeader'): void {
    const payload: ReplyPayload =
      reply === 'notLeader' ? { kind: 'res', req, remainingMs: -1, grantedTtlMs: 0, notLeader: true } : { kind: 'res', req, ...reply };
    this.#send(to, { type: 'app', from: this.#self, to, channel: LEASE_CHANNEL, payload: pack(payload) });
  }

  rejectAll(err: QuorumError): void {
    for (const p of [...this.#pending.values()]) p.reject(err);
    this.#pending.clear();
  }
}

/** The node calls the lease handle through this. */
export interface LeaseHost {
  keepAliveLease(id: number, options?: CallOptions): Promise<number>;
  revokeLease(id: number, options?: CallOptions): Promise<void>;
  leaseTimeToLive(id: number, options?: CallOptions & { readonly keys?: boolean }): Promise<LeaseTimeToLive>;
}

export interface LeaseEvents {
  /** The lease is gone (expired on the leader, or revoked). Emitted once. */
  expired: () => void;
}

/** A granted lease. Keep it alive with `keepAlive()` (returns the remaining ms). */
export class Lease extends EventEmitter<LeaseEvents> {
  readonly id: number;
  /** Granted TTL in ms (after the TTL floor). */
  readonly ttlMs: number;
  readonly #host: LeaseHost;
  #expired = false;

  constructor(host: LeaseHost, id: number, ttlMs: number) {
    super();
    this.#host = host;
    this.id = id;
    this.ttlMs = ttlMs;
  }

  get expired(): boolean {
    return this.#expired;
  }

  async keepAlive(options?: CallOptions): Promise<number> {
    try {
      return await this.#host.keepAliveLease(this.id, options);
    } catch (err) {
      if (err instanceof LeaseNotFoundError) this.markExpired();
      throw err;
    }
  }

  revoke(options?: CallOptions): Promise<void> {
    return this.#host.revokeLease(this.id, options);
  }

  timeToLive(options?: CallOptions & { readonly keys?: boolean }): Promise<LeaseTimeToLive> {
    return this.#host.leaseTimeToLive(this.id, options);
  }

  /** @internal Called by the node when the lease stops existing. */
  markExpired(): void {
    if (this.#expired) return;
    this.#expired = true;
    this.emit('expired');
  }
}
