/**
 * `memoryStorage()`: the {@link Storage} contract without a disk, for tests and the simulator.
 *
 * It models durability the way the simulator needs it: a `save()` is "synced" when its Promise
 * resolves (one microtask later, in call order), and only synced data is visible to reads and
 * survives {@link MemoryStorage.crash}. A crash drops every unsynced write and may tear the oldest
 * one: a random prefix of its entries survives (appended as a shorter write would have been),
 * its hard state and snapshot do not — a state a real WAL can also be left in, since nothing of
 * that write was acknowledged.
 */
import { InvalidArgumentError, StoppedError } from '../errors.ts';
import type { ConfState, Entry, HardState, LogIndex, Snapshot, Term } from '../protocol/types.ts';
import { checkBatch, isIndex, LogState, type LogProjection } from './log-state.ts';
import { joinParts } from './join-parts.ts';
import { isSnapshotData, type SaveBatch, type SnapshotData, type Storage } from './types.ts';

export interface MemoryStorage extends Storage {
  /**
   * Simulates power loss: returns a new storage (call `open()` on it) holding only what was
   * synced; the oldest unsynced save may survive torn (a prefix of its entries). This instance
   * stops: its pending and later calls reject with `StoppedError`. `random` decides the tear.
   * @default Math.random
   */
  crash(random?: () => number): MemoryStorage;
}

/** An empty in-memory storage. `open()` is a no-op here; calls before it are allowed. */
export function memoryStorage(): MemoryStorage {
  return new MemoryStorageImpl(new LogState());
}

interface Unsynced {
  readonly batch?: SaveBatch;
  readonly created?: Snapshot;
}

class MemoryStorageImpl implements MemoryStorage {
  // Invariant: #state holds exactly the synced writes, in order.
  readonly #state: LogState;
  #projection: LogProjection;
  /** Writes whose Promise has not resolved yet, oldest first. */
  readonly #unsynced: Unsynced[] = [];
  #stopped: 'closed' | 'crashed' | undefined;

  constructor(state: LogState) {
    this.#state = state;
    this.#projection = { lastIndex: state.lastIndex(), snapshotIndex: state.snapshot().meta.index };
  }

  #live(): LogState {
    if (this.#stopped !== undefined) throw new StoppedError(`storage: ${this.#stopped}`);
    return this.#state;
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return this.#live().initialState();
  }
  firstIndex(): LogIndex {
    return this.#live().firstIndex();
  }
  lastIndex(): LogIndex {
    return this.#live().lastIndex();
  }
  term(index: LogIndex): Term {
    return this.#live().term(index);
  }
  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[] {
    return this.#live().entries(lo, hi, maxBytes);
  }
  snapshot(): Snapshot {
    return this.#live().snapshot();
  }

  async open(): Promise<void> {
    this.#live();
  }

  async close(): Promise<void> {
    if (this.#stopped !== undefined) return;
    // Let pending saves sync first, as the file storage flushes before it closes.
    while (this.#unsynced.length > 0) await Promise.resolve();
    this.#stopped = 'closed';
  }

  async save(batch: SaveBatch): Promise<void> {
    this.#live();
    const projection = { ...this.#projection };
    checkBatch(batch, projection);
    this.#projection = projection;
    await this.#sync({ batch });
  }

  /** Resolves one microtask later, in call order, unless the storage crashed meanwhile. */
  async #sync(write: Unsynced): Promise<void> {
    this.#unsynced.push(write);
    await Promise.resolve();
    if (this.#stopped === 'crashed') throw new StoppedError('storage: crashed before the write was synced');
    const head = this.#unsynced.shift();
    if (head !== write) throw new Error('storage: assertion failed: memory writes synced out of order');
    applyWrite(this.#state, write);
  }

  async createSnapshot(index: LogIndex, confState: ConfState, data: SnapshotData): Promise<Snapshot> {
    if (!isSnapshotData(data)) throw new InvalidArgumentError('storage: snapshot data must be a Uint8Array or an array of them');
    // Memory storage serves whole snapshots: parts are joined here, in slices.
    const whole = data instanceof Uint8Array ? data : await joinParts(data);
    const s = this.#live();
    const current = s.snapshot().meta.index;
    if (!isIndex(index) || index <= current) throw new InvalidArgumentError(`storage: snapshot index ${index} is not after the current snapshot ${current}`);
    if (index > s.lastIndex()) throw new InvalidArgumentError(`storage: snapshot index ${index} is past the last durable index ${s.lastIndex()}`);
    if (index > s.hardState.commit) throw new InvalidArgumentError(`storage: snapshot index ${index} is past the durable commit ${s.hardState.commit}`);
    // Later saves must not touch the log at or below this snapshot (as in fileStorage).
    this.#projection = { ...this.#projection, snapshotIndex: Math.max(this.#projection.snapshotIndex, index) };
    const snap: Snapshot = {
      meta: { index, term: s.term(index), confState: { voters: [...confState.voters], learners: [...confState.learners] } },
      data: whole,
    };
    await this.#sync({ created: snap });
    return snap;
  }

  async compact(index: LogIndex): Promise<void> {
    const s = this.#live();
    const limit = s.snapshot().meta.index + 1;
    if (!isIndex(index) || index > limit) throw new InvalidArgumentError(`storage: compact index ${index} is past the snapshot index + 1 (${limit})`);
    s.compact(index);
  }

  crash(random: () => number = Math.random): MemoryStorage {
    const survivor = this.#state.clone();
    const torn = this.#unsynced[0]?.batch;
    if (torn !== undefined && torn.snapshot === undefined && torn.entries.length > 0 && this.#stopped !== 'crashed') {
      const keep = Math.floor(random() * (torn.entries.length + 1));
      if (keep > 0) survivor.append(torn.entries.slice(0, keep));
    }
    this.#stopped = 'crashed';
    // As a reopen of file storage: only the entries after the snapshot (no catch-up window).
    survivor.trimToSnapshot();
    return new MemoryStorageImpl(survivor);
  }
}

function applyWrite(state: LogState, write: Unsynced): void {
  const b = write.batch;
  if (b !== undefined) {
    if (b.snapshot !== undefined) state.installSnapshot(b.snapshot);
    state.append(b.entries);
    if (b.hardState !== undefined) state.setHardState(b.hardState);
  }
  const c = write.created;
  if (c !== undefined && c.meta.index > state.snapshot().meta.index) state.setSnapshot(c);
}
