/**
 * The replicated application state at `appliedIndex`: the store, the members' peer URLs, the
 * auth state (users, roles; auth/auth-state.ts) and the dedupe table of applied proposal ids —
 * exactly what a snapshot holds. Applying is deterministic
 * (docs/design.md, "The driver loop"): the same log gives the same state on every member, byte for byte.
 */
import { nodeAssert as assert } from '../assert.ts';
import { QuorumError } from '../errors.ts';
import { isDetached } from '../storage/types.ts';
import type { Entry, Snapshot } from '../protocol/types.ts';
import { decodeCommand } from '../store/codec.ts';
import { Store } from '../store/store.ts';
import type { CommandResult, StoreLimits } from '../store/types.ts';
import { decodeAppSnapshot, decodeEnvelope, encodeAppSnapshotParts } from './codec.ts';
import type { AppSnapshot } from './codec.ts';
import { concatAsync } from '../store/snapshot.ts';
import { authRecordFromWire, authRecordToWire, decodeAuthCommand, decodeGuarded, isAuthCommand, isGuarded } from './auth/auth-codec.ts';
import { AuthState } from './auth/auth-state.ts';
import type { AuthResult } from './auth/types.ts';
import type { ProposalId } from './codec.ts';
import { decodeAttributesCommand, isAttributesCommand } from './member-attributes.ts';
import type { AttributesResult } from './member-attributes.ts';
import { Membership } from './membership.ts';
import { DedupeTable } from './proposals.ts';

/**
 * What one log entry costs in memory beyond its data (the entry and its buffer view in the
 * storage's in-memory log, the index bookkeeping): measured ≈ 250 B for 100k small entries.
 * Counted by `appliedBytes`, so `snapshotEveryBytes` bounds memory also when values are small.
 */
export const ENTRY_OVERHEAD_BYTES = 256;

/**
 * What applying one proposal answers: the store's result, the auth state's for an auth command,
 * or the membership's for a member attributes command.
 */
export type AppliedResult = CommandResult | AuthResult | AttributesResult;

/** A command applied by {@link AppliedState.apply}: its proposal id and the store's answer. */
export interface AppliedCommand {
  readonly id: ProposalId;
  readonly result: AppliedResult | QuorumError;
}

/** A frozen {@link AppliedState} (see {@link AppliedState.view}). */
export interface AppliedView {
  /** The applied index the view was taken at. */
  readonly index: number;
  /** The snapshot bytes of the view; rejects with the signal's reason once it aborts. */
  encode(signal?: AbortSignal): Promise<Uint8Array>;
  /** The same bytes as consecutive parts (for a storage that writes them one after the other). */
  encodeParts(signal?: AbortSignal): Promise<Uint8Array[]>;
}

export class AppliedState {
  readonly #limits: StoreLimits;
  readonly #dedupeEntries: number;
  #store: Store;
  /** Peer URLs and removed ids; one object for the member's lifetime (a snapshot resets its contents). */
  readonly membership = new Membership();
  /** Users, roles and the enabled flag; one object for the member's lifetime, like `membership`. */
  readonly auth = new AuthState();
  #dedupe: DedupeTable;
  // Invariant: appliedIndex <= raft commit; it only grows (a snapshot install jumps forward).
  #appliedIndex: number;
  #appliedBytes = 0;

  /**
   * The state of `snapshot` (empty when its index is 0). `restored` is the snapshot's decoded
   * envelope and its store when the caller already rebuilt them (see {@link AppliedState.open}:
   * the envelope is decoded once); otherwise both are made here, synchronously.
   */
  constructor(limits: StoreLimits, dedupeEntries: number, snapshot: Snapshot, restored?: { readonly app: AppSnapshot; readonly store: Store }) {
    this.#limits = limits;
    this.#dedupeEntries = dedupeEntries;
    this.#appliedIndex = snapshot.meta.index;
    assert(!isDetached(snapshot), 'a snapshot kept on disk is loaded (Storage.loadSnapshot) before a state is built from it');
    if (snapshot.meta.index > 0) {
      const app = restored?.app ?? decodeAppSnapshot(snapshot.data);
      this.#store = restored?.store ?? Store.restore(app.store, limits);
      this.membership.reset(app.members);
      this.auth.reset(authRecordFromWire(app.auth));
      this.#dedupe = new DedupeTable(dedupeEntries, app.dedupe);
    } else {
      this.#store = new Store(limits);
      this.#dedupe = new DedupeTable(dedupeEntries);
    }
  }

  /**
   * The state of `snapshot`, its store rebuilt in slices (Store.restoreAsync) so that a member
   * starting from a large snapshot does not block its host's event loop for seconds.
   */
  static async open(limits: StoreLimits, dedupeEntries: number, snapshot: Snapshot): Promise<AppliedState> {
    if (snapshot.meta.index === 0) return new AppliedState(limits, dedupeEntries, snapshot);
    const app = decodeAppSnapshot(snapshot.data);
    const store = await Store.restoreAsync(app.store, limits);
    return new AppliedState(limits, dedupeEntries, snapshot, { app, store });
  }

  get store(): Store {
    return this.#store;
  }

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /**
   * Approximate memory of the entries applied by this instance (not restored from a snapshot):
   * their data plus {@link ENTRY_OVERHEAD_BYTES} each. Only grows.
   */
  get appliedBytes(): number {
    return this.#appliedBytes;
  }

  /**
   * Replaces everything with a snapshot from the leader (the store becomes a new object):
   * `prepared`, the store the driver already rebuilt from this snapshot's bytes in the background
   * (see snapshot-prefetch.ts), or one rebuilt now in slices (Store.restoreAsync). Until it
   * resolves, the old store keeps serving local reads, and nothing else changes this state.
   */
  async install(snapshot: Snapshot, prepared?: Store): Promise<Readonly<Record<string, string>>> {
    const app = decodeAppSnapshot(snapshot.data);
    const store = prepared ?? (await Store.restoreAsync(app.store, this.#limits));
    const auth = authRecordFromWire(app.auth);
    this.#store = store;
    this.membership.reset(app.members);
    this.auth.reset(auth);
    this.#dedupe = new DedupeTable(this.#dedupeEntries, app.dedupe);
    this.#appliedIndex = snapshot.meta.index;
    return this.membership.urls();
  }

  /**
   * Applies one committed entry. Returns the command applied now, or undefined for an entry
   * already applied, a new leader's empty entry, a re-proposed copy of an applied proposal, or a
   * membership change (handed to `onConfChange`, which owns that side).
   */
  apply(entry: Entry, onConfChange: (entry: Entry) => void): AppliedCommand | undefined {
    if (entry.index <= this.#appliedIndex) return undefined;
    this.#appliedIndex = entry.index;
    this.#appliedBytes += entry.data.length + ENTRY_OVERHEAD_BYTES;
    if (entry.type === 'confChange') {
      onConfChange(entry);
      return undefined;
    }
    if (entry.data.length === 0) return undefined; // A new leader's empty entry (§5.4.2).
    const env = decodeEnvelope(entry.data);
    const { member, incarnation, seq } = env.id;
    if (!this.#dedupe.addIfAbsent(member, incarnation, seq)) return undefined; // A re-proposed copy: the first one was applied.
    let result: AppliedResult | QuorumError;
    try {
      result = this.#applyCommand(env.command);
    } catch (err) {
      // A typed error is the command's answer (and the store changed nothing); anything else is a bug.
      if (!(err instanceof QuorumError)) throw err;
      result = err;
    }
    return { id: env.id, result };
  }

  /** An auth command, a store command, or a store command guarded by the auth revision it was checked at. */
  #applyCommand(bytes: Uint8Array): AppliedResult {
    // A member's attributes are the node's own state (published by the member itself).
    if (isAttributesCommand(bytes)) return this.membership.applyAttributes(decodeAttributesCommand(bytes));
    if (isAuthCommand(bytes)) return this.auth.apply(decodeAuthCommand(bytes));
    if (!isGuarded(bytes)) return this.#store.apply(decodeCommand(bytes));
    const guarded = decodeGuarded(bytes);
    this.auth.checkRevision(guarded.revision);
    if (isAuthCommand(guarded.command)) return this.auth.apply(decodeAuthCommand(guarded.command));
    return this.#store.apply(decodeCommand(guarded.command));
  }

  /**
   * This state frozen now, at `appliedIndex` (the store view is O(1); members and dedupe ids are
   * copied): `encode()` later gives the bytes of the state as it is now, in slices that yield to
   * the event loop, while apply goes on.
   */
  view(): AppliedView {
    const store = this.#store.snapshot();
    const members = this.membership.toRecord();
    const dedupe = this.#dedupe.frozenKeys();
    const auth = this.auth.pristine ? undefined : authRecordToWire(this.auth.toRecord());
    // The store's pieces go into the envelope as they are: never copied for a storage that
    // writes parts, joined once in slices otherwise (at 1M keys one synchronous copy of the
    // store bytes held the loop ≈ 60 ms).
    const encodeParts = async (signal?: AbortSignal): Promise<Uint8Array[]> =>
      encodeAppSnapshotParts(await store.encodeParts(signal === undefined ? {} : { signal }), members, dedupe(), auth);
    return {
      index: this.#appliedIndex,
      encodeParts,
      encode: async (signal?: AbortSignal): Promise<Uint8Array> => concatAsync(await encodeParts(signal), signal),
    };
  }
}
