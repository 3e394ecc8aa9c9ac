/**
 * `fileStorage(dir)`: the durable {@link Storage} — a segmented WAL (wal.ts) plus snapshot files
 * (snapshot-file.ts) in one locked directory (dir-lock.ts), with the log since the compaction
 * point held in memory (log-state.ts) so the Raft core's reads are synchronous.
 *
 * Writes go through one queue drained by one flush loop: whatever saves are queued when the
 * previous fdatasync finishes are encoded into ONE record and written with one write and one
 * fdatasync (group commit). Each save resolves only after that fdatasync, and only then does the
 * in-memory log show its data. Any I/O error fails the storage for good (fail-stop).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { CorruptionError, InvalidArgumentError, QuorumError, RequestTooLargeError, StoppedError, StorageError } from '../errors.ts';
import type { ConfState, Entry, HardState, LogIndex, Snapshot, Term } from '../protocol/types.ts';
import { DirLock } from './dir-lock.ts';
import { ensureDir, fsyncDir } from './fs-util.ts';
import { storageAssert as assert } from '../assert.ts';
import { checkBatch, emptySnapshot, isIndex, LogState, type LogProjection } from './log-state.ts';
import { batchItemBytes, FRAME_HEADER_BYTES, WAL_FORMAT_VERSION, type BatchItem, type SegmentHeader } from './record-codec.ts';
import { listSnapshotFiles, readSnapshotFile, snapshotFileName, verifySnapshotFile, writeSnapshotFile } from './snapshot-file.ts';
import { DETACHED_SNAPSHOT_DATA, detached, isSnapshotData, type FileStorageOptions, type SaveBatch, type SnapshotData, type Storage } from './types.ts';
import { listSegments, replayWal, WalWriter, type ReplayVisitor, type WalConfig } from './wal.ts';

/** @default 64 MiB */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** @default 2 */
export const DEFAULT_KEEP_SNAPSHOTS = 2;
/** @default 64 MiB */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
/** Smallest accepted `segmentBytes` (tests use small segments to exercise rotation). */
export const MIN_SEGMENT_BYTES = 4096;
/** Smallest accepted `maxRecordBytes`. */
export const MIN_MAX_RECORD_BYTES = 1024;
/** Largest `maxRecordBytes`: the frame's length field is 32 bits. */
export const MAX_MAX_RECORD_BYTES = 0xffff_ffff - FRAME_HEADER_BYTES;

type Logger = NonNullable<FileStorageOptions['logger']>;

const DEFAULT_LOGGER: Logger = {
  info: () => undefined,
  warn: (obj, msg) => process.stderr.write(`${msg} ${JSON.stringify(obj)}\n`),
};

interface Config {
  readonly dir: string;
  readonly segmentBytes: number;
  readonly keepSnapshots: number;
  readonly maxRecordBytes: number;
  readonly logger: Logger;
  readonly onWalSync: ((seconds: number) => void) | undefined;
}

function normalize(dir: string, o: FileStorageOptions): Config {
  if (typeof dir !== 'string' || dir.length === 0) throw new RangeError('fileStorage: dir must be a non-empty path');
  const segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const keepSnapshots = o.keepSnapshots ?? DEFAULT_KEEP_SNAPSHOTS;
  const maxRecordBytes = o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
    throw new RangeError(`fileStorage: segmentBytes must be an integer >= ${MIN_SEGMENT_BYTES}`);
  }
  if (!Number.isSafeInteger(keepSnapshots) || keepSnapshots < 1) throw new RangeError('fileStorage: keepSnapshots must be an integer >= 1');
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < MIN_MAX_RECORD_BYTES || maxRecordBytes > MAX_MAX_RECORD_BYTES) {
    throw new RangeError(`fileStorage: maxRecordBytes must be an integer in [${MIN_MAX_RECORD_BYTES}, ${MAX_MAX_RECORD_BYTES}]`);
  }
  return Object.freeze({ dir, segmentBytes, keepSnapshots, maxRecordBytes, logger: o.logger ?? DEFAULT_LOGGER, onWalSync: o.onWalSync });
}

/** A durable, file-backed {@link Storage} in `dir` (created if missing). Call `open()` first. */
export function fileStorage(dir: string, options: FileStorageOptions = {}): Storage & { loadSnapshot(): Promise<Snapshot> } {
  return new FileStorage(normalize(dir, options));
}

interface Pending {
  /**
   * What to write, encoded by the flush loop straight into the record buffer; undefined for an
   * empty save that only waits its turn.
   */
  readonly item: BatchItem | undefined;
  /** The item's encoded size (0 without an item). */
  readonly bytes: number;
  readonly batch?: SaveBatch;
  /** A snapshot made by the application, visible once its marker is durable. */
  readonly created?: Snapshot;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

type Status = 'new' | 'opening' | 'open' | 'closing' | 'closed' | 'failed';

class FileStorage implements Storage {
  readonly #cfg: Config;
  readonly #walCfg: WalConfig;
  readonly #state = new LogState();
  #status: Status = 'new';
  #failure: QuorumError | undefined;
  #lock: DirLock | undefined;
  #wal: WalWriter | undefined;
  // Invariant: the log as it will be once every queued write is durable (used to check saves).
  #projection: LogProjection = { lastIndex: 0, snapshotIndex: 0 };
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  /** createSnapshot calls, one at a time. */
  #snapshotChain: Promise<unknown> = Promise.resolve();
  /** The current snapshot as read at open, until loadSnapshot() takes it (its bytes read once). */
  #opened: Snapshot | undefined;
  /** Segment and snapshot-file deletions, one at a time. */
  #cleanupChain: Promise<unknown> = Promise.resolve();
  /** Settles when close() has finished. */
  #closed: Promise<void> = Promise.resolve();
  /** The open() in progress (close() waits for it). */
  #opening: Promise<void> | undefined;

  constructor(cfg: Config) {
    this.#cfg = cfg;
    this.#walCfg = {
      dir: cfg.dir,
      segmentBytes: cfg.segmentBytes,
      maxRecordBytes: cfg.maxRecordBytes,
      warn: (obj, msg) => cfg.logger.warn(obj, msg),
      onSync: cfg.onWalSync,
    };
  }

  // ---- reads (LogStorage) -----------------------------------------------------------------

  #readable(): LogState {
    if (this.#status === 'open' || this.#status === 'closing') return this.#state;
    if (this.#status === 'failed') throw this.#failure ?? new StorageError('storage: failed');
    if (this.#status === 'closed') throw new StoppedError('storage: closed');
    throw new Error('storage: assertion failed: read before open() resolved');
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return this.#readable().initialState();
  }
  firstIndex(): LogIndex {
    return this.#readable().firstIndex();
  }
  lastIndex(): LogIndex {
    return this.#readable().lastIndex();
  }
  term(index: LogIndex): Term {
    return this.#readable().term(index);
  }
  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[] {
    return this.#readable().entries(lo, hi, maxBytes);
  }
  /** The latest snapshot, detached: its bytes stay in its file ({@link loadSnapshot}). */
  snapshot(): Snapshot {
    return this.#readable().snapshot();
  }

  async loadSnapshot(): Promise<Snapshot> {
    const opened = this.#opened;
    this.#opened = undefined;
    for (let attempt = 0; ; attempt++) {
      const current = this.#readable().snapshot();
      if (current.meta.index === 0) return current;
      if (opened !== undefined && opened.meta.index === current.meta.index) return opened;
      const file = join(this.#cfg.dir, snapshotFileName(current.meta.index, current.meta.term));
      try {
        const snap = await readSnapshotFile(file);
        if (snap.meta.index !== current.meta.index || snap.meta.term !== current.meta.term) throw new CorruptionError(file, 0, 'snapshot meta does not match its name');
        return snap;
      } catch (err) {
        // A newer snapshot may have replaced this one (and retention deleted its file) meanwhile.
        if (attempt < 2 && this.#readable().snapshot().meta.index !== current.meta.index) continue;
        throw err instanceof QuorumError ? err : this.#fail('snapshot read', err);
      }
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  open(): Promise<void> {
    assert(this.#status === 'new', `open() called in state ${this.#status}`);
    this.#status = 'opening';
    this.#opening = this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    try {
      await ensureDir(this.#cfg.dir);
      this.#lock = await DirLock.acquire(this.#cfg.dir, (obj, msg) => this.#cfg.logger.warn(obj, msg));
      await this.#recover();
    } catch (err) {
      await this.#lock?.release().catch(() => undefined);
      await this.#wal?.close().catch(() => undefined);
      this.#status = 'failed';
      this.#failure = err instanceof QuorumError ? err : new StorageError(`storage: open failed: ${message(err)}`, { cause: err });
      throw this.#failure;
    }
    this.#projection = { lastIndex: this.#state.lastIndex(), snapshotIndex: this.#state.snapshot().meta.index };
    this.#status = 'open';
    void this.#cleanup(() => this.#verifyRetainedSnapshots());
  }

  async #recover(): Promise<void> {
    const dir = this.#cfg.dir;
    // Synchronous directory work: open() runs once, before the member serves anything.
    let names = fs.readdirSync(dir);
    for (const n of names) if (n === 'wal.tmp' || n.endsWith('.snap.tmp')) fs.rmSync(join(dir, n), { force: true });
    names = fs.readdirSync(dir);
    const seqs = listSegments(names);
    const snapFiles = listSnapshotFiles(names);
    if (seqs.length === 0) {
      if (snapFiles.length > 0) throw new CorruptionError(dir, 0, 'snapshot files exist but the WAL is missing');
      this.#wal = await WalWriter.create(this.#walCfg, this.#header(0));
      return;
    }
    const replay = await replayWal(this.#walCfg, seqs, this.#replayVisitor());
    const meta = this.#state.snapshot().meta;
    if (meta.index < this.#state.offset - 1) {
      throw new CorruptionError(dir, 0, `WAL starts after index ${this.#state.offset - 1} but the snapshot is at ${meta.index}`);
    }
    if (meta.index > 0) {
      const ref = snapFiles.find((f) => f.index === meta.index);
      const file = join(dir, ref?.name ?? snapshotFileName(meta.index, meta.term));
      if (ref === undefined || ref.term !== meta.term) throw new CorruptionError(file, 0, 'snapshot referenced by the WAL is missing');
      const snap = await readSnapshotFile(file);
      if (snap.meta.index !== meta.index || snap.meta.term !== meta.term) throw new CorruptionError(file, 0, 'snapshot meta does not match its name');
      this.#state.replaceSnapshot(detached(snap));
      // The member rebuilds its state from these bytes right after open: hand them over once.
      this.#opened = snap;
    }
    this.#state.trimToSnapshot();
    this.#wal = await WalWriter.resume(this.#walCfg, replay);
    await this.#retainSnapshots(true);
    this.#cfg.logger.info(
      { dir, segments: replay.segments.length, snapshotIndex: meta.index, lastIndex: this.#state.lastIndex(), truncated: replay.truncated },
      'storage: recovered',
    );
  }

  #replayVisitor(): ReplayVisitor {
    const state = this.#state;
    return {
      header: (h, file, first) => {
        if (first) {
          state.installSnapshot(placeholderSnapshot(h.snapshot.index, h.snapshot.term));
          state.resetAt(h.prevIndex, h.prevTerm);
          state.setHardState(h.hardState);
          return;
        }
        const meta = state.snapshot().meta;
        const lastTerm = state.term(state.lastIndex());
        if (h.prevIndex !== state.lastIndex() || h.prevTerm !== lastTerm || h.snapshot.index !== meta.index) {
          throw new CorruptionError(file, 0, `segment starts after ${h.prevIndex}/${h.prevTerm} but the log ends at ${state.lastIndex()}/${lastTerm}`);
        }
      },
      item: (item, file, offset) => replayItem(state, item, file, offset),
    };
  }

  /** The header of a new segment: where the durable log stands now. */
  #header(seq: number): SegmentHeader {
    const last = this.#state.lastIndex();
    const meta = this.#state.snapshot().meta;
    return {
      version: WAL_FORMAT_VERSION,
      seq,
      segmentBytes: this.#cfg.segmentBytes,
      prevIndex: last,
      prevTerm: seq === 0 ? 0 : this.#state.term(last),
      hardState: this.#state.hardState,
      snapshot: { index: meta.index, term: meta.term },
    };
  }

  async close(): Promise<void> {
    if (this.#status === 'closed' || this.#status === 'closing') return this.#closed;
    if (this.#status === 'opening') {
      // Recovery replays the WAL asynchronously: let it finish (or fail), then close what it opened.
      await this.#opening?.catch(() => undefined);
      return this.close();
    }
    if (this.#status === 'new') {
      this.#status = 'closed';
      return;
    }
    const wasFailed = this.#status === 'failed';
    this.#status = wasFailed ? 'failed' : 'closing';
    this.#closed = (async () => {
      await this.#snapshotChain.catch(() => undefined);
      await this.#flushing;
      await this.#cleanupChain.catch(() => undefined);
      await this.#wal?.close().catch(() => undefined);
      this.#wal = undefined;
      await this.#lock?.release().catch(() => undefined);
      if (this.#status !== 'failed') this.#status = 'closed';
    })();
    return this.#closed;
  }

  // ---- writes -------------------------------------------------------------------------------

  #writable(): void {
    if (this.#status === 'open') return;
    if (this.#status === 'failed') throw this.#failure ?? new StorageError('storage: failed');
    if (this.#status === 'closing' || this.#status === 'closed') throw new StoppedError('storage: closed');
    throw new Error('storage: assertion failed: write before open() resolved');
  }

  save(batch: SaveBatch): Promise<void> {
    try {
      this.#writable();
      const projection = { ...this.#projection };
      checkBatch(batch, projection);
      const empty = batch.hardState === undefined && batch.snapshot === undefined && batch.entries.length === 0;
      const item = empty ? undefined : batchItem(batch);
      const bytes = item === undefined ? 0 : this.#sizeOf(item);
      this.#projection = projection;
      return this.#enqueue(item, bytes, { batch });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The item's encoded size; rejects one that would make a record over `maxRecordBytes`. */
  #sizeOf(item: BatchItem): number {
    const payloadBytes = batchItemBytes(item);
    const bytes = FRAME_HEADER_BYTES + payloadBytes;
    if (bytes > this.#cfg.maxRecordBytes) throw new RequestTooLargeError('storage: WAL record', bytes, this.#cfg.maxRecordBytes);
    return payloadBytes;
  }

  #enqueue(item: BatchItem | undefined, bytes: number, what: { batch?: SaveBatch; created?: Snapshot }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, bytes, ...what, resolve, reject });
      if (this.#flushing === undefined) this.#flushing = this.#flushLoop();
    });
  }

  /** Drains the queue: each round writes every queued item as one record, one fdatasync. */
  async #flushLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        if (this.#failure !== undefined) {
          for (const p of this.#queue.splice(0)) p.reject(this.#failure);
          return;
        }
        const group = this.#takeGroup();
        try {
          await this.#writeGroup(group);
        } catch (err) {
          const failure = this.#fail('write', err);
          for (const p of group) p.reject(failure);
          continue;
        }
        const snapshotChanged = this.#applyDurable(group);
        for (const p of group) p.resolve();
        if (snapshotChanged) this.#cleanup(() => this.#retainSnapshots(false));
        // Idle: top up the zero-filled runway (wal.ts, ZERO_CHUNK_BYTES), one chunk at a time, so
        // a save that arrives meanwhile waits for one write at most; the callers above are
        // already answered.
        try {
          while (this.#queue.length === 0 && this.#status === 'open') {
            const wal = this.#wal;
            if (wal === undefined || !(await wal.extendRunway())) break;
          }
        } catch (err) {
          this.#fail('write', err);
        }
      }
    } finally {
      // Runs synchronously after the last check of the queue, so a save pushed later starts a new loop.
      this.#flushing = undefined;
    }
  }

  #takeGroup(): Pending[] {
    const limit = this.#cfg.maxRecordBytes - FRAME_HEADER_BYTES;
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length) {
      const size = (this.#queue[n] as Pending).bytes;
      if (n > 0 && bytes + size > limit) break;
      bytes += size;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #writeGroup(group: readonly Pending[]): Promise<void> {
    const wal = this.#wal;
    assert(wal !== undefined, 'write without a WAL');
    const items: BatchItem[] = [];
    let bytes = 0;
    for (const p of group) {
      // A received snapshot's file must be durable before the record that points at it.
      if (p.batch?.snapshot !== undefined) await writeSnapshotFile(this.#cfg.dir, p.batch.snapshot.meta, p.batch.snapshot.data);
      if (p.item !== undefined) {
        items.push(p.item);
        bytes += p.bytes;
      }
    }
    if (items.length > 0) await wal.append(items, bytes, (seq) => this.#header(seq));
  }

  /** Makes a durable group visible to reads; returns whether the snapshot changed. */
  #applyDurable(group: readonly Pending[]): boolean {
    let snapshotChanged = false;
    for (const p of group) {
      const b = p.batch;
      if (b !== undefined) {
        if (b.snapshot !== undefined) {
          this.#state.installSnapshot(detached(b.snapshot));
          snapshotChanged = true;
        }
        this.#state.append(b.entries);
        if (b.hardState !== undefined) this.#state.setHardState(b.hardState);
      }
      if (p.created !== undefined && p.created.meta.index > this.#state.snapshot().meta.index) {
        this.#state.setSnapshot(detached(p.created));
        snapshotChanged = true;
      }
    }
    return snapshotChanged;
  }

  #fail(what: string, err: unknown): QuorumError {
    if (this.#failure === undefined) {
      this.#failure = new StorageError(`storage: ${what} failed in ${this.#cfg.dir}: ${message(err)}`, { cause: err });
      this.#cfg.logger.warn({ dir: this.#cfg.dir, err: message(err) }, 'storage: failed; every later call rejects');
    }
    if (this.#status !== 'closed') this.#status = 'failed';
    return this.#failure;
  }

  /** Runs an I/O step; any error fails the storage. */
  async #io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#fail(what, err);
    }
  }

  #cleanup(fn: () => Promise<unknown>): Promise<unknown> {
    const run = (): Promise<unknown> => (this.#failure === undefined ? this.#io('cleanup', fn) : Promise.resolve());
    const p = this.#cleanupChain.then(run, run);
    this.#cleanupChain = p.catch(() => undefined);
    return p;
  }

  // ---- snapshots and compaction ---------------------------------------------------------------

  createSnapshot(index: LogIndex, confState: ConfState, data: SnapshotData): Promise<Snapshot> {
    const run = (): Promise<Snapshot> => this.#createSnapshot(index, confState, data);
    const p = this.#snapshotChain.then(run, run);
    this.#snapshotChain = p.catch(() => undefined);
    return p;
  }

  /** Returns the new snapshot detached (its bytes are in the file; they may have come in parts). */
  async #createSnapshot(index: LogIndex, confState: ConfState, data: SnapshotData): Promise<Snapshot> {
    this.#writable();
    const s = this.#state;
    const current = s.snapshot().meta.index;
    if (!isIndex(index) || index <= current) throw new InvalidArgumentError(`storage: snapshot index ${index} is not after the current snapshot ${current}`);
    if (index > s.lastIndex()) throw new InvalidArgumentError(`storage: snapshot index ${index} is past the last durable index ${s.lastIndex()}`);
    if (index > s.hardState.commit) throw new InvalidArgumentError(`storage: snapshot index ${index} is past the durable commit ${s.hardState.commit}`);
    if (!isConfState(confState)) throw new InvalidArgumentError('storage: confState must hold voters and learners as string arrays');
    if (!isSnapshotData(data)) throw new InvalidArgumentError('storage: snapshot data must be a Uint8Array or an array of them');
    // From now on a save must not touch the log at or below this snapshot: replay applies the
    // marker before any later record and would reject such a record as corruption at open().
    this.#projection = { ...this.#projection, snapshotIndex: Math.max(this.#projection.snapshotIndex, index) };
    const meta = { index, term: s.term(index), confState: { voters: [...confState.voters], learners: [...confState.learners] } };
    await this.#io('snapshot write', () => writeSnapshotFile(this.#cfg.dir, meta, data));
    const snap: Snapshot = { meta, data: DETACHED_SNAPSHOT_DATA };
    this.#writable();
    const marker: BatchItem = { entries: [], snapshot: { index, term: snap.meta.term, reset: false } };
    await this.#enqueue(marker, this.#sizeOf(marker), { created: snap });
    return snap;
  }

  /** Deletes snapshot files older than the newest `keepSnapshots`; at open also unreferenced newer ones. */
  async #retainSnapshots(atOpen: boolean): Promise<void> {
    const dir = this.#cfg.dir;
    const current = this.#state.snapshot().meta;
    const files = listSnapshotFiles(await fs.promises.readdir(dir));
    const older = files.filter((f) => f.index < current.index).reverse();
    const victims = older.slice(this.#cfg.keepSnapshots - 1);
    if (atOpen) {
      // A crash between writing a snapshot file and its WAL marker leaves an unreferenced file.
      victims.push(...files.filter((f) => f.index > current.index || (f.index === current.index && f.term !== current.term)));
    }
    for (const f of victims) await fs.promises.rm(join(dir, f.name), { force: true });
    if (victims.length > 0) await fsyncDir(dir);
  }

  /**
   * Checks the older snapshot files kept for manual recovery (the current one is read whole at
   * open), in the background so a large file does not delay open. A damaged one is renamed
   * `<name>.broken` (as etcd's snapshotter does) and a warning logged, so nobody recovers from
   * it; the member does not need it, so it keeps running. Stops early when the storage closes.
   */
  async #verifyRetainedSnapshots(): Promise<void> {
    const dir = this.#cfg.dir;
    const current = this.#state.snapshot().meta.index;
    const older = listSnapshotFiles(await fs.promises.readdir(dir)).filter((f) => f.index < current);
    const keepGoing = (): boolean => this.#status === 'open';
    for (const f of older) {
      const path = join(dir, f.name);
      try {
        if (!(await verifySnapshotFile(path, keepGoing))) return;
      } catch (err) {
        if (!(err instanceof CorruptionError)) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted by retention meanwhile
          throw err;
        }
        this.#cfg.logger.warn({ file: path, err: err.message }, 'storage: a retained older snapshot is damaged; renamed to .broken');
        await fs.promises.rename(path, `${path}.broken`);
        await fsyncDir(dir);
      }
    }
  }

  compact(index: LogIndex): Promise<void> {
    try {
      this.#writable();
      const limit = this.#state.snapshot().meta.index + 1;
      if (!isIndex(index) || index > limit) throw new InvalidArgumentError(`storage: compact index ${index} is past the snapshot index + 1 (${limit})`);
      this.#state.compact(index);
      return this.#cleanup(async () => {
        const wal = this.#wal;
        if (wal !== undefined) await wal.deleteBelow(index);
      }).then(() => undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

function batchItem(batch: SaveBatch): BatchItem {
  const s = batch.snapshot;
  return {
    entries: batch.entries,
    ...(batch.hardState === undefined ? {} : { hardState: batch.hardState }),
    ...(s === undefined ? {} : { snapshot: { index: s.meta.index, term: s.meta.term, reset: true } }),
  };
}

function placeholderSnapshot(index: LogIndex, term: Term): Snapshot {
  const s = emptySnapshot();
  return { meta: { ...s.meta, index, term }, data: s.data };
}

/** Stands for a term the replay cannot know (see replayItem); never served. */
const UNKNOWN_TERM = -1;

/** Applies one replayed item, checking it continues the log; an inconsistency is corruption. */
function replayItem(state: LogState, item: BatchItem, file: string, offset: number): void {
  const snap = item.snapshot;
  if (snap !== undefined) {
    const current = state.snapshot().meta;
    if (snap.reset) {
      if (snap.index <= current.index) throw new CorruptionError(file, offset, `received snapshot ${snap.index} is not after ${current.index}`);
      state.installSnapshot(placeholderSnapshot(snap.index, snap.term));
    } else if (snap.index > current.index) {
      if (snap.index > state.lastIndex()) throw new CorruptionError(file, offset, `snapshot marker ${snap.index} is past the log end ${state.lastIndex()}`);
      if (snap.index >= state.offset && state.term(snap.index) !== snap.term) {
        throw new CorruptionError(file, offset, `snapshot marker ${snap.index}/${snap.term} does not match the log`);
      }
      state.replaceSnapshot(placeholderSnapshot(snap.index, snap.term));
    }
  }
  const first = item.entries[0];
  if (first !== undefined) {
    const lo = state.snapshot().meta.index + 1;
    if (first.index < lo || first.index > state.lastIndex() + 1) {
      throw new CorruptionError(file, offset, `entries start at ${first.index}, outside [${lo}, ${state.lastIndex() + 1}]`);
    }
    // An overwrite may start below this segment's first index: the entries it replaced were in a
    // segment deleted by compaction. Their successors start here; the term before is unknown
    // (and never needed: it is at or below the final snapshot, or the check above fails).
    if (first.index < state.offset) state.resetAt(first.index - 1, UNKNOWN_TERM);
    state.append(item.entries);
  }
  if (item.hardState !== undefined) state.setHardState(item.hardState);
}

function isConfState(c: ConfState): boolean {
  return (
    typeof c === 'object' &&
    c !== null &&
    Array.isArray(c.voters) &&
    Array.isArray(c.learners) &&
    c.voters.every((v) => typeof v === 'string') &&
    c.learners.every((v) => typeof v === 'string')
  );
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

