/**
 * Leader election (etcd `concurrency.Election`). Campaigners queue under `<name>/` by create
 * revision, each with `<name>/<leaseId hex>` = its value; the leader is the oldest key. A
 * campaigner watches only its predecessor, and is re-checked when it reaches the front (its lease
 * must still hold its key). `proclaim`/`resign` compare the key's create revision, so a deposed
 * leader can never overwrite or delete a newer leader's key. The same session (lease) resumes the
 * same place in line after a restart.
 */
import { EventEmitter } from 'eventemitter3';
import { AbortedError, CompactedError, InvalidArgumentError, LockLostError, WatchCancelledError } from '../errors.ts';
import { cmp, op } from '../node/txn-builder.ts';
import type { KeyValue, RangeResult } from '../node/types.ts';
import type { QuorumNode } from '../node/node.ts';
import { createSession, type Session } from './session.ts';
import { awaitTurn, checkPredecessor, deleteIfOwned, enterLine, leaveLine } from './turn.ts';
import { composeSignal, leaseHex, prefixOf, withAbortReason, type Holder, type WaitOptions } from './util.ts';

export interface ElectionOptions {
  /** Session to campaign with. Without it, `campaign()` creates one of `ttlMs`, closed by `resign()`/`close()`. */
  readonly session?: Session;
  /** TTL of the election's own session in ms (ignored with `session`). @default 10_000 */
  readonly ttlMs?: number;
}

/** The current leader as read from the store. */
export interface ElectionLeader<T> {
  readonly key: string;
  readonly value: T;
  /** The leader key's create revision: a fencing token for this term of leadership. */
  readonly createRevision: number;
  /** Revision of the last `proclaim` (or of the campaign). */
  readonly modRevision: number;
  readonly leaseId: number;
}

export interface ElectionEvents<T> {
  /** This campaigner became leader. */
  leader: [leader: ElectionLeader<T>];
  /** This campaigner's session was lost while leader or campaigning. */
  lost: [error: LockLostError];
  /** This campaigner resigned. */
  resigned: [];
}

function toLeader<T>(kv: KeyValue<unknown>): ElectionLeader<T> {
  return { key: kv.key, value: kv.value as T, createRevision: kv.createRevision, modRevision: kv.modRevision, leaseId: kv.lease ?? 0 };
}

/** One campaigner's handle on election `name`. Create with {@link createElection}. */
export class Election<T = unknown> extends EventEmitter<ElectionEvents<T>> implements Holder {
  readonly name: string;
  readonly #node: QuorumNode;
  readonly #prefix: string;
  readonly #options: ElectionOptions;
  #session: Session | undefined;
  #ownsSession = false;
  /** Key and create revision of the latest campaign, kept after it ends so `cmp.owns(this)` just fails. */
  #key = '';
  #createRevision = 0;
  /** True while a campaign is pending or leading (between `campaign()` and resign/loss). */
  #active = false;
  #leader = false;
  /** Aborts the pending campaign's wait when `resign()`/`close()` is called meanwhile. */
  #campaignAbort: AbortController | undefined;
  #unclaim: () => void = () => undefined;
  readonly #onLost = (err: LockLostError): void => {
    const was = this.#active;
    this.#leader = false;
    this.#forget();
    if (was) this.emit('lost', err);
  };

  constructor(node: QuorumNode, name: string, options: ElectionOptions = {}) {
    super();
    this.#node = node;
    this.name = name;
    this.#prefix = prefixOf(name, 'election');
    this.#options = options;
  }

  /**
   * This campaigner's key (`''` before the first campaign). With `createRevision`, what
   * `cmp.owns(election)` checks; kept after resign/loss, so a stale fenced write fails in the txn.
   */
  get key(): string {
    return this.#key;
  }

  /** This campaigner's key's create revision (0 before campaigning). */
  get createRevision(): number {
    return this.#createRevision;
  }

  /** True from `campaign()` resolving until `resign()`, `close()` or session loss. */
  get isLeader(): boolean {
    return this.#leader;
  }

  get session(): Session | undefined {
    return this.#session;
  }

  /**
   * Joins the line with `value` and resolves when elected. With a session whose key already exists
   * (restart), resumes its original place and updates the value. Rejects with the abort reason,
   * `TimeoutError`, or `LockLostError` if the session is lost; then the campaign is withdrawn.
   */
  async campaign(value: T, options: WaitOptions = {}): Promise<void> {
    if (this.#active) throw new InvalidArgumentError(`election: ${this.name}: already campaigning or leader; resign first`);
    // `timeoutMs` bounds the whole campaign, the session grant included (with no leader the grant
    // would otherwise last the node's own request timeout).
    const bound = composeSignal(`campaign ${this.name}`, [options.signal], options.timeoutMs);
    // Set before the first await: a second campaign() meanwhile must be refused, not create a
    // second session and a second key in the line for this one campaigner.
    this.#active = true;
    let session: Session;
    let waiting: ReturnType<typeof composeSignal>;
    const cancel = new AbortController();
    // Set before the first await too, so a resign() meanwhile cancels this campaign.
    this.#campaignAbort = cancel;
    let key: string;
    try {
      session = await withAbortReason(bound.signal, `campaign ${this.name}`, () => this.#sessionFor(bound.signal));
      if (cancel.signal.aborted) throw new AbortedError(`election: ${this.name}: resigned while campaigning`);
      key = `${this.#prefix}${leaseHex(session.leaseId)}`;
      // Before anything is written: a key claimed by another campaigner on this session is theirs.
      this.#unclaim = session.claim(key);
      waiting = composeSignal(`campaign ${this.name}`, [bound.signal, session.signal, cancel.signal]);
    } catch (err) {
      bound.dispose();
      // After a resign() meanwhile, a newer campaign may own the state: touch it only if it is ours.
      const current = this.#campaignAbort === cancel;
      if (current) {
        this.#campaignAbort = undefined;
        this.#forget();
      }
      if ((current || !this.#active) && this.#ownsSession) await this.#closeSession();
      throw err;
    }
    this.#key = key;
    this.#createRevision = 0;
    try {
      const e = await enterLine(this.#node, session, key, value, this.#prefix, waiting.signal);
      this.#key = key;
      this.#createRevision = e.createRevision;
      // A resumed key keeps its create revision but may hold an old value: proclaim the new one.
      if (e.resumed) await this.#put(value);
      // Our key alone under the prefix: nobody campaigns ahead of us.
      const first = e.ownerCount === 1;
      if (!first) await awaitTurn(this.#node, session, (signal) => checkPredecessor(this.#node, this.#prefix, key, e.createRevision, signal), waiting.signal);
      if (cancel.signal.aborted || !this.#active) throw new AbortedError(`election: ${this.name}: resigned while campaigning`);
      this.#leader = true;
      session.on('lost', this.#onLost);
      this.emit('leader', { key, value, createRevision: e.createRevision, modRevision: e.revision, leaseId: session.leaseId });
    } catch (err) {
      // After a resign() and a new campaign() meanwhile, the state is the new campaign's.
      const current = this.#campaignAbort === cancel;
      if (current) {
        this.#leader = false;
        this.#forget();
        // Withdraw: our key (guarded by its create revision) must not block the line.
        await leaveLine(this.#node, session, key, this.#createRevision === 0 ? undefined : this.#createRevision);
        if (this.#ownsSession) await this.#closeSession();
      }
      throw err;
    } finally {
      bound.dispose();
      waiting.dispose();
      if (this.#campaignAbort === cancel) this.#campaignAbort = undefined;
    }
  }

  /** Updates the leader's value without an election; `LockLostError` if not (or no longer) the leader. */
  async proclaim(value: T): Promise<void> {
    if (!this.#leader) throw new LockLostError(`election: ${this.name}: not the leader`);
    await this.#put(value);
  }

  /**
   * Gives up leadership (or a pending campaign's place): deletes the key only if it still has this
   * campaigner's create revision. Closes the election's own session. Idempotent.
   */
  async resign(): Promise<void> {
    const key = this.#key;
    const createRevision = this.#createRevision;
    const wasActive = this.#active;
    const wasLeader = this.#leader;
    this.#leader = false;
    this.#campaignAbort?.abort(new AbortedError(`election: ${this.name}: resigned while campaigning`));
    this.#forget();
    if (wasActive && createRevision !== 0 && this.#session?.isOpen === true) await deleteIfOwned(this.#node, key, createRevision);
    if (this.#ownsSession) await this.#closeSession();
    if (wasLeader) this.emit('resigned');
  }

  /** The current leader, or `undefined` when nobody campaigns. */
  async leader(options: WaitOptions = {}): Promise<ElectionLeader<T> | undefined> {
    const res = await this.#node.range(
      { prefix: this.#prefix },
      { sort: { by: 'createRevision', order: 'asc' }, limit: 1, ...(options.signal === undefined ? {} : { signal: options.signal }) },
    );
    const kv = res.kvs[0];
    return kv === undefined ? undefined : toLeader<T>(kv);
  }

  /**
   * Leader changes as an async iterable: the current leader first (if any), then every new leader
   * or proclaimed value, in revision order, with none missed (read at R, watch from R + 1).
   * Ends when `signal` aborts; throws if the node stops.
   */
  observe(options: { readonly signal?: AbortSignal } = {}): AsyncIterable<ElectionLeader<T>> {
    return observeLeaders<T>(this.#node, this.#prefix, options.signal);
  }

  /** Resigns and closes the election's own session. */
  async close(): Promise<void> {
    await this.resign();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #put(value: T): Promise<void> {
    const session = this.#session;
    if (session === undefined) throw new LockLostError(`election: ${this.name}: no session`);
    const res = await this.#node
      .txn()
      .if(cmp.createRevision(this.#key, '==', this.#createRevision))
      .then(op.put(this.#key, value, { lease: session.leaseId }))
      .commit();
    if (!res.succeeded) {
      this.#leader = false;
      this.#forget();
      throw new LockLostError(`election: ${this.name}: our key is gone (session expired or resigned elsewhere)`);
    }
  }

  async #sessionFor(signal?: AbortSignal): Promise<Session> {
    if (this.#session !== undefined && this.#session.isOpen) return this.#session;
    if (this.#options.session !== undefined) {
      this.#session = this.#options.session;
      this.#ownsSession = false;
      return this.#session;
    }
    this.#session = await createSession(this.#node, {
      ...(this.#options.ttlMs === undefined ? {} : { ttlMs: this.#options.ttlMs }),
      ...(signal === undefined ? {} : { signal }),
    });
    this.#ownsSession = true;
    return this.#session;
  }

  #forget(): void {
    this.#session?.off('lost', this.#onLost);
    this.#unclaim();
    this.#unclaim = () => undefined;
    this.#active = false;
  }

  async #closeSession(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    this.#ownsSession = false;
    await s?.close().catch(() => undefined);
  }
}

/**
 * Leader changes of the election under `prefix` (see {@link Election.observe}). Each step reads the
 * leader at a known revision — the current one at first, then exactly the revision at which the
 * previous leader key was deleted (or the first key appeared) — and follows that key from the next
 * revision. So a leader that takes over and resigns while this loop is between reads is still
 * reported: there is no gap. Only when that history was compacted does it fall back to now.
 */
async function* observeLeaders<T>(node: QuorumNode, prefix: string, signal?: AbortSignal): AsyncGenerator<ElectionLeader<T>> {
  const stop = signal ?? new AbortController().signal;
  let last: { key: string; modRevision: number } | undefined;
  /** Revision to read the leader at next; undefined = the current revision. */
  let at: number | undefined;
  for (;;) {
    if (stop.aborted) return;
    const read = await leaderAt(node, prefix, at, stop);
    if (read === undefined) return;
    at = undefined;
    // A read at a past revision reports the current revision as `revision`: follow from the one read.
    const { res, revision } = read;
    const kv = res.kvs[0];
    if (kv === undefined) {
      // Nobody campaigns: the first put under the prefix is the next leader; read it at that revision.
      const next = await firstPut(node, prefix, revision, stop);
      if (next === undefined) return;
      at = next === 'now' ? undefined : next;
      continue;
    }
    if (last === undefined || last.key !== kv.key || last.modRevision !== kv.modRevision) {
      last = { key: kv.key, modRevision: kv.modRevision };
      yield toLeader<T>(kv);
    }
    // Follow the leader key: proclaims are puts; its deletion hands over to the next in line.
    const watch = node.watch<unknown>(kv.key, { startRevision: revision + 1, signal: stop });
    try {
      for await (const ev of watch) {
        if (ev.type === 'delete') {
          at = ev.revision;
          break;
        }
        last = { key: ev.kv.key, modRevision: ev.kv.modRevision };
        yield toLeader<T>(ev.kv);
      }
    } catch (err) {
      if (stop.aborted) return;
      if (!isCompaction(err)) throw err;
    } finally {
      watch.close();
    }
    if (stop.aborted) return;
  }
}

function isCompaction(err: unknown): boolean {
  return err instanceof CompactedError || (err instanceof WatchCancelledError && err.reason === 'compacted');
}

/**
 * The oldest key under `prefix` at revision `at` (now if undefined, or if `at` was compacted) and
 * the revision it was read at; undefined once `stop` aborts.
 */
async function leaderAt(
  node: QuorumNode,
  prefix: string,
  at: number | undefined,
  stop: AbortSignal,
): Promise<{ res: RangeResult<unknown>; revision: number } | undefined> {
  const options = { sort: { by: 'createRevision', order: 'asc' }, limit: 1, signal: stop } as const;
  try {
    if (at === undefined) {
      const res = await node.range({ prefix }, options);
      return { res, revision: res.revision };
    }
    return { res: await node.range({ prefix }, { ...options, revision: at }), revision: at };
  } catch (err) {
    if (stop.aborted) return undefined;
    if (at !== undefined && err instanceof CompactedError) return leaderAt(node, prefix, undefined, stop);
    throw err;
  }
}

/**
 * The revision of the first put under `prefix` after `afterRevision`; `'now'` if that history was
 * compacted (the caller re-reads the current state); undefined once `stop` aborts.
 */
async function firstPut(node: QuorumNode, prefix: string, afterRevision: number, stop: AbortSignal): Promise<number | 'now' | undefined> {
  const watch = node.watch<unknown>({ prefix }, { startRevision: afterRevision + 1, noDelete: true, signal: stop });
  try {
    for await (const ev of watch) if (ev.type === 'put') return ev.revision;
  } catch (err) {
    if (stop.aborted) return undefined;
    if (!isCompaction(err)) throw err;
    return 'now';
  } finally {
    watch.close();
  }
  return undefined;
}

/** A handle on election `name` (keys under `<name>/`). Nothing is written until `campaign()`. */
export function createElection<T = unknown>(node: QuorumNode, name: string, options: ElectionOptions = {}): Election<T> {
  return new Election<T>(node, name, options);
}
