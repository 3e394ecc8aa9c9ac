/**
 * Service registry: instances register `<prefix><service>/<instance>` = metadata, attached to a
 * session's lease, so a crashed instance disappears within its TTL. `discover()` lists the live
 * instances; `watch()` is an async iterable of snapshots (read at R, then watch from R + 1, so no
 * change is missed; a watch cancelled as slow or compacted resynchronizes from a fresh read).
 * A registration whose session is lost (a long partition) registers again with a new session
 * unless `keepRegistered: false`.
 */
import { EventEmitter } from 'eventemitter3';
import { CompactedError, InvalidArgumentError, LockLostError, StoppedError, WatchCancelledError } from '../errors.ts';
import { cmp, op } from '../node/txn-builder.ts';
import type { KeyValue } from '../node/types.ts';
import type { QuorumNode } from '../node/node.ts';
import { createSession, DEFAULT_SESSION_TTL_MS, type Session } from './session.ts';
import { prefixOf, sleep } from './util.ts';

/** Default registry prefix. */
export const DEFAULT_REGISTRY_PREFIX = '/services/';

export interface RegisterOptions {
  /** TTL of the registration's session in ms: how fast a crashed instance disappears. @default 10_000 */
  readonly ttlMs?: number;
  /** Register under this session instead (not closed by `deregister()`; not re-registered on loss). */
  readonly session?: Session;
  /** Register again with a new session when the session is lost. @default true */
  readonly keepRegistered?: boolean;
  readonly signal?: AbortSignal;
}

export interface ServiceInstance<M> {
  readonly service: string;
  readonly instance: string;
  readonly meta: M;
  readonly key: string;
  readonly leaseId: number;
  readonly modRevision: number;
}

export interface RegistrationEvents {
  /** The session was lost; the instance is (or soon will be) absent until re-registered. */
  lost: [error: LockLostError];
  /** Registered again after a loss, with a new lease. */
  registered: [leaseId: number];
  error: [error: unknown];
}

function checkName(what: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/')) throw new InvalidArgumentError(`registry: ${what} must be a non-empty string without '/'`);
}

/** One registered instance. Create with {@link Registry.register}. */
export class Registration<M> extends EventEmitter<RegistrationEvents> {
  readonly service: string;
  readonly instance: string;
  readonly key: string;
  readonly #node: QuorumNode;
  readonly #options: RegisterOptions;
  #session: Session;
  #meta: M;
  #closed = false;

  constructor(node: QuorumNode, service: string, instance: string, key: string, meta: M, session: Session, options: RegisterOptions) {
    super();
    this.#node = node;
    this.service = service;
    this.instance = instance;
    this.key = key;
    this.#meta = meta;
    this.#session = session;
    this.#options = options;
    this.#watchSession();
  }

  get session(): Session {
    return this.#session;
  }

  get meta(): M {
    return this.#meta;
  }

  /** Replaces the metadata (same lease). */
  async update(meta: M): Promise<void> {
    this.#meta = meta;
    await this.#node.put(this.key, meta, { lease: this.#session.leaseId });
  }

  /** Removes the instance now (and closes the session it created). Idempotent. */
  async deregister(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#options.session !== undefined) {
      // Only our own registration: a newer one (another lease) under the same name stays.
      await this.#node.txn().if(cmp.lease(this.key, '==', this.#session.leaseId)).then(op.delete(this.key)).commit();
    } else {
      await this.#session.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.deregister();
  }

  #watchSession(): void {
    this.#session.once('lost', (err) => {
      if (this.#closed) return;
      this.emit('lost', err);
      if (this.#options.session === undefined && this.#options.keepRegistered !== false) void this.#reRegister();
    });
  }

  async #reRegister(): Promise<void> {
    const ttlMs = this.#options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    for (let delayMs = 100; !this.#closed; delayMs = Math.min(delayMs * 2, ttlMs)) {
      let session: Session | undefined;
      try {
        session = await createSession(this.#node, { ttlMs });
        if (this.#closed) {
          await session.close();
          return;
        }
        await this.#node.put(this.key, this.#meta, { lease: session.leaseId });
        if (this.#closed) {
          // deregister() ran during the put and closed the lost session, not this one.
          await session.close();
          return;
        }
        this.#session = session;
        this.#watchSession();
        this.emit('registered', session.leaseId);
        return;
      } catch (err) {
        // A session that did not register is nobody's: without this its keep-alive (and lease)
        // would outlive every retry.
        await session?.close().catch(() => undefined);
        if (err instanceof StoppedError) return;
        if (this.listenerCount('error') > 0) this.emit('error', err);
        await sleep(delayMs);
      }
    }
  }
}

/** Registry of services under one prefix. Create with {@link createRegistry}. */
export class Registry<M = unknown> {
  readonly prefix: string;
  readonly #node: QuorumNode;

  constructor(node: QuorumNode, prefix: string) {
    this.#node = node;
    this.prefix = prefixOf(prefix, 'registry');
  }

  /** Registers `instance` of `service` with `meta`, kept alive by a session of `ttlMs`. */
  async register(service: string, instance: string, meta: M, options: RegisterOptions = {}): Promise<Registration<M>> {
    checkName('service', service);
    checkName('instance', instance);
    const key = `${this.prefix}${service}/${instance}`;
    const session =
      options.session ??
      (await createSession(this.#node, {
        ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      }));
    try {
      await this.#node.put(key, meta, { lease: session.leaseId, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    } catch (err) {
      if (options.session === undefined) await session.close().catch(() => undefined);
      throw err;
    }
    return new Registration<M>(this.#node, service, instance, key, meta, session, options);
  }

  /** The live instances of `service`, sorted by instance name. */
  async discover(service: string, options: { readonly signal?: AbortSignal } = {}): Promise<ServiceInstance<M>[]> {
    checkName('service', service);
    const res = await this.#node.range<M>({ prefix: `${this.prefix}${service}/` }, { sort: { by: 'key', order: 'asc' }, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    return res.kvs.map((kv) => this.#toInstance(service, kv));
  }

  /**
   * Snapshots of the live instances of `service`: the current list first, then a new list after
   * every change. Ends when `signal` aborts; throws if the node stops.
   */
  watch(service: string, options: { readonly signal?: AbortSignal } = {}): AsyncIterable<ServiceInstance<M>[]> {
    checkName('service', service);
    return this.#snapshots(service, options.signal ?? new AbortController().signal);
  }

  async *#snapshots(service: string, signal: AbortSignal): AsyncGenerator<ServiceInstance<M>[]> {
    const prefix = `${this.prefix}${service}/`;
    while (!signal.aborted) {
      let res;
      try {
        res = await this.#node.range<M>({ prefix }, { signal });
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      const live = new Map<string, ServiceInstance<M>>();
      for (const kv of res.kvs) live.set(kv.key, this.#toInstance(service, kv));
      yield sorted(live);
      const watch = this.#node.watch<M>({ prefix }, { startRevision: res.revision + 1, signal });
      try {
        for await (const ev of watch) {
          if (ev.type === 'put') live.set(ev.kv.key, this.#toInstance(service, ev.kv));
          else live.delete(ev.kv.key);
          yield sorted(live);
        }
      } catch (err) {
        if (signal.aborted) return;
        const resync = err instanceof CompactedError || (err instanceof WatchCancelledError && (err.reason === 'compacted' || err.reason === 'slow'));
        if (!resync) throw err;
      } finally {
        watch.close();
      }
    }
  }

  #toInstance(service: string, kv: KeyValue<M>): ServiceInstance<M> {
    return { service, instance: kv.key.slice(this.prefix.length + service.length + 1), meta: kv.value, key: kv.key, leaseId: kv.lease ?? 0, modRevision: kv.modRevision };
  }
}

function sorted<M>(live: Map<string, ServiceInstance<M>>): ServiceInstance<M>[] {
  return [...live.values()].sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
}

/** A registry under `prefix` (default `/services/`). */
export function createRegistry<M = unknown>(node: QuorumNode, prefix: string = DEFAULT_REGISTRY_PREFIX): Registry<M> {
  return new Registry<M>(node, prefix);
}
