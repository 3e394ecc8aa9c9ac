/**
 * Distributed lock (etcd `concurrency.Mutex`, with its two known bugs fixed). Fair FIFO by create
 * revision: each waiter puts `<name>/<leaseId hex>` attached to its session's lease and watches
 * only its predecessor. The holder's `fencingToken` is its key's create revision: strictly
 * increasing per lock name, so a protected resource can reject a stale holder; better still, fence
 * the protected write itself with `cmp.owns(lock)` in a txn (a lock alone is not mutual exclusion:
 * a paused holder can outlive its lease, docs/design.md, "Known pitfalls").
 */
import { EventEmitter } from 'eventemitter3';
import { LockLostError, StoppedError } from '../errors.ts';
import type { QuorumNode } from '../node/node.ts';
import { createSession, type Session } from './session.ts';
import { awaitTurn, checkPredecessor, deleteIfOwned, enterLine, leaveLine, type Entered, type TurnCheck } from './turn.ts';
import { composeSignal, leaseHex, prefixOf, withAbortReason, type Holder, type WaitOptions } from './util.ts';

export interface LockOptions extends WaitOptions {
  /**
   * Session to hold the lock with (several locks may share one). Without it the lock creates its
   * own session of `ttlMs` and closes it on release.
   */
  readonly session?: Session;
  /** TTL of the lock's own session in ms (ignored with `session`). @default 10_000 */
  readonly ttlMs?: number;
}

export interface LockEvents {
  /** The session was lost while holding: another client may now hold the lock. */
  lost: [error: LockLostError];
  released: [];
}

/** A held lock. Create with {@link acquireLock} or {@link tryLock}. */
export class Lock extends EventEmitter<LockEvents> implements Holder {
  /** The lock name as given. */
  readonly name: string;
  /** This holder's key: `<name>/<leaseId hex>`. */
  readonly key: string;
  /** The key's create revision; `cmp.owns(lock)` compares it. */
  readonly createRevision: number;
  readonly session: Session;
  readonly #node: QuorumNode;
  readonly #ownsSession: boolean;
  readonly #unclaim: () => void;
  /** Created on first use of `signal`: most holders never ask for it. */
  #controller: AbortController | undefined;
  #state: 'held' | 'lost' | 'released' = 'held';
  readonly #onLost: (err: LockLostError) => void;

  constructor(node: QuorumNode, name: string, key: string, createRevision: number, session: Session, ownsSession: boolean, unclaim: () => void) {
    super();
    this.#node = node;
    this.name = name;
    this.key = key;
    this.createRevision = createRevision;
    this.session = session;
    this.#ownsSession = ownsSession;
    this.#unclaim = unclaim;
    this.#onLost = (err) => {
      if (this.#state !== 'held') return;
      this.#state = 'lost';
      this.#controller?.abort(err);
      this.#unclaim();
      this.emit('lost', err);
    };
    // Told through the session's claim on our key, not a `lost` listener: O(1) to add and drop
    // however many holders share the session. The claim is given back on release or loss.
    session.notifyLost(key, this.#onLost);
    if (session.isLost) queueMicrotask(() => this.#onLost(new LockLostError(`lock: session ${session.leaseId} was lost`)));
  }

  /** Strictly increasing per lock name: the lock key's create revision. */
  get fencingToken(): number {
    return this.createRevision;
  }

  /** True until released or lost (as far as this process can tell; fence writes with `cmp.owns`). */
  get isHeld(): boolean {
    return this.#state === 'held';
  }

  /** Aborted when the lock is lost or released. Pass it to the work the lock guards. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#state === 'lost') this.#controller.abort(new LockLostError(`lock: ${this.name} was lost`));
      else if (this.#state === 'released') this.#controller.abort(new StoppedError(`lock: ${this.name} released`));
    }
    return this.#controller.signal;
  }

  /**
   * Releases the lock: deletes the key only if it still has this holder's create revision, so a
   * late or repeated release can never delete a newer holder's key (etcd #22082). Resolves to
   * whether a key was deleted. Closes the lock's own session. Idempotent.
   */
  async release(): Promise<boolean> {
    if (this.#state === 'released') return false;
    const wasHeld = this.#state === 'held';
    this.#state = 'released';
    if (this.#controller !== undefined && !this.#controller.signal.aborted) this.#controller.abort(new StoppedError(`lock: ${this.name} released`));
    this.#unclaim();
    let deleted = false;
    if (this.#ownsSession) {
      // Our own session: revoking its lease deletes the key (and nothing else) in one proposal.
      deleted = wasHeld && this.session.isOpen;
      await this.session.close();
    } else if (wasHeld || this.session.isOpen) {
      deleted = await deleteIfOwned(this.#node, this.key, this.createRevision);
    }
    this.emit('released');
    return deleted;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/** Grants the lock's own session (no `session` option). */
async function ownSession(node: QuorumNode, options: LockOptions): Promise<Session> {
  // `timeoutMs` bounds the grant too: with no leader it would otherwise last the node's own
  // request timeout, however small the caller's limit.
  const bound = options.timeoutMs === undefined ? undefined : composeSignal('lock session', [options.signal], options.timeoutMs);
  const signal = bound?.signal ?? options.signal;
  const grant = (): Promise<Session> =>
    createSession(node, { ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }), ...(signal === undefined ? {} : { signal }) });
  try {
    return await (signal === undefined ? grant() : withAbortReason(signal, 'lock session', grant));
  } finally {
    bound?.dispose();
  }
}

/** `lockKey(name, leaseId)`: the key a session holds or waits for lock `name` with. */
export function lockKey(name: string, leaseId: number): string {
  return `${prefixOf(name, 'lock')}${leaseHex(leaseId)}`;
}

/** How one kind of line decides whose turn it is (lock, RW lock reader/writer, semaphore). */
export interface LineSpec {
  /** For messages: `lock /locks/a`, `read lock /x`, … */
  readonly what: string;
  /** The lock name as given (kept on the Lock). */
  readonly name: string;
  /** This session's key in the line. */
  readonly key: (session: Session) => string;
  /** Prefix whose keys `enterLine` counts along with the entry. */
  readonly ownerPrefix: string;
  /** Whether the entry alone proves it is our turn (saves a read when uncontended). */
  readonly immediate: (entered: Entered) => boolean;
  /** The turn check run while waiting. */
  readonly check: (entered: Entered, signal: AbortSignal) => Promise<TurnCheck>;
}

/**
 * Enters the line described by `spec` and waits for our turn (or gives up at once when `wait` is
 * false). On any failure it leaves the line — the delete is guarded by create revision — and closes
 * the session it created.
 */
export async function holdLine(node: QuorumNode, spec: LineSpec, options: LockOptions, wait: true): Promise<Lock>;
export async function holdLine(node: QuorumNode, spec: LineSpec, options: LockOptions, wait: boolean): Promise<Lock | undefined>;
export async function holdLine(node: QuorumNode, spec: LineSpec, options: LockOptions, wait: boolean): Promise<Lock | undefined> {
  const startedAtMs = options.timeoutMs === undefined ? 0 : performance.now();
  // A shared session costs nothing per acquire (no await, no lease work).
  const owned = options.session === undefined;
  const session = options.session ?? (await ownSession(node, options));
  const key = spec.key(session);
  let unclaim: () => void;
  try {
    // Outside the cleanup below: if another user of this session holds or waits with this key,
    // the key is theirs, and leaving the line would delete it from under them.
    unclaim = session.claim(key);
  } catch (err) {
    if (owned) await session.close().catch(() => undefined);
    throw err;
  }
  let entered: Entered | undefined;
  // Built only when we must wait: the uncontended path allocates no signal or timer.
  let waiting: ReturnType<typeof composeSignal> | undefined;
  try {
    const e = await enterLine(node, session, key, '', spec.ownerPrefix, options.signal);
    entered = e;
    if (!spec.immediate(e)) {
      const remainingMs = options.timeoutMs === undefined ? undefined : Math.max(0, options.timeoutMs - (performance.now() - startedAtMs));
      waiting = composeSignal(spec.what, [options.signal, session.signal], remainingMs);
      const signal = waiting.signal;
      if (!wait) {
        const state = await withAbortReason(signal, spec.what, () => spec.check(e, signal));
        if (!state.mine) throw new LockLostError(`recipes: session ${session.leaseId} lost its place in line`);
        if (state.blocker !== undefined || state.waitPrefix !== undefined) {
          await deleteIfOwned(node, key, e.createRevision);
          unclaim();
          if (owned) await session.close();
          return undefined;
        }
      } else {
        await awaitTurn(node, session, (s) => spec.check(e, s), signal);
      }
    }
    return new Lock(node, spec.name, key, e.createRevision, session, owned, unclaim);
  } catch (err) {
    unclaim();
    if (session.isOpen && !owned) {
      // Leave the line so our key does not block others until the shared session ends.
      await leaveLine(node, session, key, entered?.createRevision);
    }
    if (owned) await session.close().catch(() => undefined);
    throw err;
  } finally {
    waiting?.dispose();
  }
}

/**
 * The mutex's line. One small object per acquire with its behaviour on the prototype: no closures
 * and no message strings are built on the uncontended path.
 */
class MutexLine implements LineSpec {
  readonly name: string;
  readonly ownerPrefix: string;
  readonly #node: QuorumNode;

  constructor(node: QuorumNode, name: string) {
    this.#node = node;
    this.name = name;
    this.ownerPrefix = prefixOf(name, 'lock');
  }

  get what(): string {
    return `lock ${this.name}`;
  }

  key(session: Session): string {
    return this.ownerPrefix + leaseHex(session.leaseId);
  }

  /** Our own key is the only one under the prefix (all others would be older): we hold the lock. */
  immediate(e: Entered): boolean {
    return e.ownerCount === 1;
  }

  check(e: Entered, signal: AbortSignal): Promise<TurnCheck> {
    return checkPredecessor(this.#node, this.ownerPrefix, e.key, e.createRevision, signal);
  }
}

/**
 * Blocks until the lock is held (FIFO among waiters), or rejects: `signal`'s reason /
 * `AbortedError`, `TimeoutError` after `timeoutMs`, `LockLostError` if the session is lost while
 * waiting — the caller never becomes owner on an expired lease (etcd #11456).
 *
 * ```ts
 * await using lock = await acquireLock(node, '/locks/report', { ttlMs: 10_000 });
 * await node.txn().if(cmp.owns(lock)).then(op.put('/report', data)).commit();
 * ```
 */
export function acquireLock(node: QuorumNode, name: string, options: LockOptions = {}): Promise<Lock> {
  // Not async itself (one promise and frame less per acquire), yet it never throws: a bad name rejects.
  let line: MutexLine;
  try {
    line = new MutexLine(node, name);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return holdLine(node, line, options, true);
}

/** Takes the lock only if nobody holds or waits for it; resolves `undefined` otherwise. */
export async function tryLock(node: QuorumNode, name: string, options: LockOptions = {}): Promise<Lock | undefined> {
  return holdLine(node, new MutexLine(node, name), options, false);
}
