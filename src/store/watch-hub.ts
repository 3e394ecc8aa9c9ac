/**
 * The watch hub (etcd's synced/unsynced watcher groups). A watcher whose start revision is in the
 * past is "unsynced": each `next()` replays the next bounded chunk of history from the keyspace's
 * revision log. When it reaches the current revision it joins the "synced" index and from then on
 * `publish()` (called once per applied write revision) appends to its buffer. Apply and `next()`
 * are synchronous, so the hand-over has no gap and no duplicate.
 *
 * Synced watchers are indexed so an event finds its watchers without scanning all of them: an
 * exact-key map, prefix maps keyed by prefix length (one lookup per distinct prefix length), and a
 * list of general [start, end) ranges (scanned; expected to be few).
 */
import { CompactedError, WatchCancelledError } from '../errors.ts';
import type { WatchCancelReason } from '../errors.ts';
import { revisionExactly, toKeyValue } from './key-index.ts';
import type { Revision } from './key-index.ts';
import type { Change, Keyspace } from './mvcc.ts';
import { boundsOf, inBounds, prefixEnd } from './range.ts';
import { RangeIndex } from './range-index.ts';
import { watchAssert as assert } from '../assert.ts';
import type { Bounds } from './range.ts';
import type { KeyRange, StoredWatchEvent, WatchOptions, WatchResponse, Watcher } from './types.ts';

/** Events buffered per watcher before it is cancelled as slow. @default 10_000 */
export const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;
/** A replay chunk stops at the first revision boundary at or after this many events. @default 1000 */
export const REPLAY_CHUNK_EVENTS = 1000;
/**
 * Revisions of one replay window: within it each key's history chain is walked once, not once per
 * revision, so replaying a hot key's long history costs O(n²/window) chain steps, not O(n²).
 */
const REPLAY_WINDOW_REVISIONS = 4096;
/** Consumed buffer slots kept before the buffer array is compacted (see HubWatcher.#shift). */
const MIN_BUFFER_COMPACT_SLOTS = 64;

/** 'new' until watch() places it: not in any index yet. */
type State = 'new' | 'unsynced' | 'synced' | 'done';

function makeEvent(key: string, rec: Revision, prev: Revision | undefined, withPrev: boolean): StoredWatchEvent {
  const kv = toKeyValue(key, rec);
  if (withPrev && prev !== undefined) return { type: rec.version > 0 ? 'put' : 'delete', kv, prevKv: toKeyValue(key, prev) };
  return { type: rec.version > 0 ? 'put' : 'delete', kv };
}

class HubWatcher implements Watcher {
  readonly id: number;
  readonly bounds: Bounds;
  /** = bounds.start / bounds.end, for the range index. */
  readonly start: string;
  readonly end: string | undefined;
  readonly prefix: string | undefined;
  readonly withPrev: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly maxBufferedEvents: number;
  readonly onReady: () => void;
  readonly #hub: WatchHub;
  state: State = 'new';
  /** Unsynced: the next revision to replay. Synced: events below it are not delivered (future start). */
  nextRev: number;
  progressPending = false;
  /**
   * Scratch state of publish(), grouping one revision's events: the first matching change
   * (`pendingFirst`), and only from the second one on a list (`pending`, first included). Most
   * revisions write one key, so most deliveries allocate nothing per watcher (see deliver()).
   */
  pendingFirst: EventPair | undefined = undefined;
  pending: StoredWatchEvent[] | undefined = undefined;
  // Invariant: head <= tail <= buffer.length; bufferedEvents = number of events in buffer[head..tail).
  #buffer: (WatchResponse | undefined)[] = [];
  #head = 0;
  /** buffer[head..tail) holds the undelivered responses; slots from tail on are spare (undefined). */
  #tail = 0;
  bufferedEvents = 0;

  constructor(hub: WatchHub, id: number, range: KeyRange, options: WatchOptions, startRevision: number) {
    this.#hub = hub;
    this.id = id;
    this.bounds = boundsOf(range);
    this.start = this.bounds.start;
    this.end = this.bounds.end;
    this.prefix = prefixOf(range);
    this.withPrev = options.prevKv === true;
    this.noPut = options.noPut === true;
    this.noDelete = options.noDelete === true;
    this.maxBufferedEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.onReady = options.onReady;
    this.nextRev = startRevision;
  }

  wants(rec: Revision): boolean {
    return rec.version > 0 ? !this.noPut : !this.noDelete;
  }

  push(resp: WatchResponse, events: number): void {
    // A progress response right behind another one supersedes it: repeated requestProgress()
    // calls (or a progress timer) on a watcher nobody drains must not grow the buffer.
    const last = this.#tail - 1;
    if (resp.kind === 'progress' && last >= this.#head && this.#buffer[last]?.kind === 'progress') this.#buffer[last] = resp;
    else {
      // Slots past #tail are kept (undefined) from earlier use: refilling them allocates nothing.
      if (this.#tail < this.#buffer.length) this.#buffer[this.#tail] = resp;
      else this.#buffer.push(resp);
      this.#tail++;
    }
    this.bufferedEvents += events;
  }

  /** Slots the buffer array holds (consumed and spare ones included); bounded, see #shift. For tests. */
  get bufferSlots(): number {
    return this.#buffer.length;
  }

  clearBuffer(): void {
    this.#buffer = [];
    this.#head = 0;
    this.#tail = 0;
    this.bufferedEvents = 0;
  }

  next(): WatchResponse | undefined {
    if (this.#head < this.#tail) return this.#shift();
    if (this.state === 'unsynced') {
      const resp = this.#hub.replay(this);
      if (resp !== undefined) return resp;
      if (this.#head < this.#tail) return this.#shift();
    }
    return undefined;
  }

  #shift(): WatchResponse {
    const buffer = this.#buffer;
    const resp = buffer[this.#head] as WatchResponse;
    buffer[this.#head] = undefined; // let it be collected
    this.#head++;
    if (resp.kind === 'events') this.bufferedEvents -= resp.events.length;
    if (this.#head === this.#tail) {
      // Drained: reuse the slots (no allocation per delivered response), unless a burst grew
      // the array, which is then released.
      this.#head = 0;
      this.#tail = 0;
      if (buffer.length > MIN_BUFFER_COMPACT_SLOTS) buffer.length = 0;
    } else if (this.#head >= MIN_BUFFER_COMPACT_SLOTS && this.#head * 2 >= this.#tail) {
      // A consumer that reads one response at a time while new ones keep arriving never drains
      // the array; drop the consumed slots (amortized O(1)) so it cannot grow without bound.
      buffer.copyWithin(0, this.#head, this.#tail);
      this.#tail -= this.#head;
      buffer.length = this.#tail;
      this.#head = 0;
    }
    return resp;
  }

  requestProgress(): void {
    if (this.state === 'synced') {
      this.push({ kind: 'progress', revision: this.#hub.revision }, 0);
      notify(this);
    } else if (this.state === 'unsynced') this.progressPending = true;
  }

  /** End with a terminal 'closed' response without calling onReady (it just threw). */
  fail(error: WatchCancelledError): void {
    if (this.state === 'done') return;
    this.#hub.remove(this);
    this.state = 'done';
    this.clearBuffer();
    this.push({ kind: 'cancelled', reason: 'closed', error }, 0);
  }

  cancel(): void {
    if (this.state === 'done') return;
    this.#hub.remove(this);
    this.state = 'done';
    this.clearBuffer();
  }
}

export class WatchHub {
  readonly #ks: Keyspace;
  #nextId = 1;
  readonly #exact = new Map<string, Set<HubWatcher>>();
  readonly #prefixes = new Map<number, Map<string, Set<HubWatcher>>>();
  /** Distinct prefix lengths in #prefixes, ascending. */
  #prefixLengths: number[] = [];
  readonly #ranges = new RangeIndex<HubWatcher>();
  readonly #rangeHits: HubWatcher[] = [];
  readonly #unsynced = new Set<HubWatcher>();
  #touched: HubWatcher[] = [];

  constructor(ks: Keyspace) {
    this.#ks = ks;
  }

  get revision(): number {
    return this.#ks.revision;
  }

  /** Number of live watchers (synced + unsynced). */
  get size(): number {
    let n = this.#ranges.size + this.#unsynced.size;
    for (const s of this.#exact.values()) n += s.size;
    for (const m of this.#prefixes.values()) for (const s of m.values()) n += s.size;
    return n;
  }

  watch(range: KeyRange, options: WatchOptions): Watcher {
    const ks = this.#ks;
    const requested = options.startRevision ?? 0;
    const start = requested > 0 ? requested : ks.revision + 1;
    const w = new HubWatcher(this, this.#nextId++, range, options, start);
    if (start <= ks.compactRevision) {
      this.#cancel(w, 'compacted', new CompactedError(start, ks.compactRevision), ks.compactRevision);
    } else if (start <= ks.revision) {
      w.state = 'unsynced';
      this.#unsynced.add(w);
      notify(w);
    } else {
      this.#index(w);
    }
    return w;
  }

  /** Deliver one applied revision's changes (in op order) to synced watchers. */
  publish(rev: number, changes: readonly Change[]): void {
    if (this.#exact.size === 0 && this.#prefixLengths.length === 0 && this.#ranges.size === 0) return;
    const touched = this.#touched;
    const lengths = this.#prefixLengths;
    for (let i = 0; i < changes.length; i++) {
      const ch = changes[i] as Change;
      const key = ch.key;
      const ev = newEventPair(ch);
      // Plain loops (no per-event closures): this is the hot path of watch delivery.
      const exact = this.#exact.get(key);
      if (exact !== undefined) for (const w of exact) collect(w, ev, rev, touched);
      for (let j = 0; j < lengths.length; j++) {
        const len = lengths[j] as number;
        if (len > key.length) break;
        const set = this.#prefixes.get(len)?.get(len === key.length ? key : key.slice(0, len));
        if (set !== undefined) for (const w of set) collect(w, ev, rev, touched);
      }
      if (this.#ranges.size > 0) {
        const hits = this.#rangeHits;
        this.#ranges.containing(key, hits);
        for (let j = 0; j < hits.length; j++) collect(hits[j] as HubWatcher, ev, rev, touched);
        hits.length = 0;
      }
    }
    for (let i = 0; i < touched.length; i++) {
      const w = touched[i] as HubWatcher;
      const resp = pendingResponse(w, rev);
      if (w.state !== 'synced') continue;
      const n = resp.events.length;
      // An empty buffer always takes one whole revision (as replay does): a delete of a large
      // prefix or a lease revoke must not cancel every watcher on it that is keeping up.
      if (w.bufferedEvents > 0 && w.bufferedEvents + n > w.maxBufferedEvents) {
        this.#cancel(w, 'slow', new WatchCancelledError('slow', `more than ${w.maxBufferedEvents} events buffered`));
        continue;
      }
      w.push(resp, n);
      notify(w);
    }
    touched.length = 0;
  }

  /** End every watcher with a terminal cancellation (store replaced by a snapshot, node closing). */
  cancelAll(reason: WatchCancelReason, message: string): void {
    const all: HubWatcher[] = [...this.#unsynced];
    this.#ranges.all(all);
    for (const set of this.#exact.values()) all.push(...set);
    for (const byLen of this.#prefixes.values()) for (const set of byLen.values()) all.push(...set);
    for (const w of all) this.#cancel(w, reason, new WatchCancelledError(reason, message));
  }

  /** Compaction at `rev`: unsynced watchers that still need revisions at or below it are cancelled. */
  compacted(rev: number): void {
    for (const w of [...this.#unsynced]) {
      if (w.nextRev <= rev) this.#cancel(w, 'compacted', new CompactedError(w.nextRev, rev), rev);
    }
  }

  /** The next replay chunk of an unsynced watcher: whole revisions, about REPLAY_CHUNK_EVENTS events. */
  replay(w: HubWatcher): WatchResponse | undefined {
    const ks = this.#ks;
    assert(w.state === 'unsynced', 'replay only while unsynced');
    assert(w.nextRev > ks.compactRevision, 'compaction cancels watchers it overtakes');
    const events: StoredWatchEvent[] = [];
    let last = 0;
    const window: ReplayWindow = { end: 0, records: new Map() };
    while (w.nextRev <= ks.revision && events.length < REPLAY_CHUNK_EVENTS) {
      const rev = w.nextRev++;
      if (rev > window.end) {
        window.end = Math.min(ks.revision, rev + REPLAY_WINDOW_REVISIONS - 1);
        window.records.clear();
      }
      const entry = ks.logAt(rev);
      assert(entry !== undefined, 'log covers (compactRevision, revision]');
      const before = events.length;
      if (typeof entry === 'string') this.#replayKey(w, entry, rev, window, events);
      else for (const key of entry) this.#replayKey(w, key, rev, window, events);
      if (events.length > before) last = rev;
    }
    if (w.nextRev > ks.revision) {
      this.#unsynced.delete(w);
      this.#index(w);
      if (w.progressPending) {
        w.progressPending = false;
        w.push({ kind: 'progress', revision: ks.revision }, 0);
      }
    }
    return events.length > 0 ? { kind: 'events', events, revision: last } : undefined;
  }

  #replayKey(w: HubWatcher, key: string, rev: number, window: ReplayWindow, out: StoredWatchEvent[]): void {
    if (!inBounds(w.bounds, key)) return;
    const rec = recordAt(this.#ks.head(key), key, rev, window);
    assert(rec !== undefined, 'a logged write is in its key history');
    if (!w.wants(rec)) return;
    const prev = rec.prev !== undefined && rec.prev.version > 0 ? rec.prev : undefined;
    out.push(makeEvent(key, rec, prev, w.withPrev));
  }

  #index(w: HubWatcher): void {
    w.state = 'synced';
    if (w.bounds.key !== undefined) {
      getOrAdd(this.#exact, w.bounds.key).add(w);
    } else if (w.prefix !== undefined) {
      const len = w.prefix.length;
      let byLen = this.#prefixes.get(len);
      if (byLen === undefined) {
        byLen = new Map();
        this.#prefixes.set(len, byLen);
        this.#prefixLengths = [...this.#prefixes.keys()].sort((a, b) => a - b);
      }
      getOrAdd(byLen, w.prefix).add(w);
    } else this.#ranges.add(w);
  }

  remove(w: HubWatcher): void {
    if (w.state === 'unsynced') {
      this.#unsynced.delete(w);
      return;
    }
    if (w.state !== 'synced') return;
    if (w.bounds.key !== undefined) deleteFrom(this.#exact, w.bounds.key, w);
    else if (w.prefix !== undefined) {
      const len = w.prefix.length;
      const byLen = this.#prefixes.get(len);
      if (byLen !== undefined) {
        deleteFrom(byLen, w.prefix, w);
        if (byLen.size === 0) {
          this.#prefixes.delete(len);
          this.#prefixLengths = [...this.#prefixes.keys()].sort((a, b) => a - b);
        }
      }
    } else this.#ranges.delete(w);
  }

  #cancel(w: HubWatcher, reason: WatchCancelReason, error: CompactedError | WatchCancelledError, compactRevision?: number): void {
    this.remove(w);
    w.state = 'done';
    w.clearBuffer();
    const resp: WatchResponse =
      compactRevision === undefined ? { kind: 'cancelled', reason, error } : { kind: 'cancelled', reason, error, compactRevision };
    w.push(resp, 0);
    notify(w);
  }
}

/**
 * Call the consumer's onReady. It runs inside apply, which must stay atomic, so a throwing
 * callback cannot escape: the watcher is ended with a 'closed' cancellation carrying the error
 * (never silently), and onReady is not called again.
 */
function notify(w: HubWatcher): void {
  try {
    w.onReady();
  } catch (err) {
    w.fail(new WatchCancelledError('closed', 'onReady threw', { cause: err }));
  }
}

/**
 * Per key, the records written inside the current replay window that are not replayed yet,
 * newest first (so the next one to replay is at the end). Built by one walk of the key's chain
 * on its first write in the window; revisions are replayed in ascending order, so each later
 * write of that key in the window is the next record popped.
 */
interface ReplayWindow {
  end: number;
  readonly records: Map<string, Revision[]>;
}

function recordAt(head: Revision | undefined, key: string, rev: number, window: ReplayWindow): Revision | undefined {
  let pending = window.records.get(key);
  if (pending === undefined) {
    pending = [];
    for (let r = head; r !== undefined && r.modRevision >= rev; r = r.prev) if (r.modRevision <= window.end) pending.push(r);
    window.records.set(key, pending);
  }
  const next = pending[pending.length - 1];
  if (next !== undefined && next.modRevision === rev) return pending.pop();
  return revisionExactly(head, rev); // not expected (a key is written once per revision); stay correct anyway
}

/**
 * One change and its two lazily built event shapes, shared by every watcher it matches; likewise
 * the one-event response of each shape, shared by every watcher that gets only this change in
 * the revision (responses are read-only to consumers).
 */
interface EventPair {
  readonly change: Change;
  plain: StoredWatchEvent | undefined;
  withPrev: StoredWatchEvent | undefined;
  plainResponse: EventsResponse | undefined;
  withPrevResponse: EventsResponse | undefined;
}

type EventsResponse = Extract<WatchResponse, { kind: 'events' }>;

function newEventPair(change: Change): EventPair {
  return { change, plain: undefined, withPrev: undefined, plainResponse: undefined, withPrevResponse: undefined };
}

function eventFor(w: HubWatcher, ev: EventPair): StoredWatchEvent {
  const ch = ev.change;
  return w.withPrev ? (ev.withPrev ??= makeEvent(ch.key, ch.rec, ch.prev, true)) : (ev.plain ??= makeEvent(ch.key, ch.rec, undefined, false));
}

function collect(w: HubWatcher, ev: EventPair, rev: number, touched: HubWatcher[]): void {
  if (w.nextRev > rev || !w.wants(ev.change.rec)) return;
  // Build the event now, before any onReady runs (a callback may write more).
  const e = eventFor(w, ev);
  const first = w.pendingFirst;
  if (first === undefined) {
    w.pendingFirst = ev;
    touched.push(w);
  } else if (w.pending === undefined) w.pending = [eventFor(w, first), e];
  else w.pending.push(e);
}

/** The response publish() hands `w` for revision `rev`; resets the scratch state. */
function pendingResponse(w: HubWatcher, rev: number): EventsResponse {
  const first = w.pendingFirst as EventPair;
  const events = w.pending;
  w.pendingFirst = undefined;
  w.pending = undefined;
  if (events !== undefined) return { kind: 'events', events, revision: rev };
  if (w.withPrev) return (first.withPrevResponse ??= { kind: 'events', events: [eventFor(w, first)], revision: rev });
  return (first.plainResponse ??= { kind: 'events', events: [eventFor(w, first)], revision: rev });
}

/**
 * The prefix a range is equivalent to, if any: `{ prefix }` itself, `[p, prefixEnd(p))` (how etcd
 * clients spell a prefix), or `{ start: '' }` (everything). Such watchers go to the prefix index.
 */
function prefixOf(range: KeyRange): string | undefined {
  if ('prefix' in range) return range.prefix;
  if ('start' in range) {
    if (range.start === '' && range.end === undefined) return '';
    if (range.start !== '' && range.end !== undefined && range.end === prefixEnd(range.start)) return range.start;
  }
  return undefined;
}

function getOrAdd<K>(map: Map<K, Set<HubWatcher>>, key: K): Set<HubWatcher> {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function deleteFrom<K>(map: Map<K, Set<HubWatcher>>, key: K, w: HubWatcher): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(w);
  if (set.size === 0) map.delete(key);
}
