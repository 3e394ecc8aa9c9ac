/**
 * etcdserverpb.Watch: one bidi stream carries many watches. Requests: create (key/range_end,
 * start_revision, filters, prev_kv, progress_notify, watch_id, fragment), cancel, progress.
 * Responses as etcd v3.4 sends them: `created` (watch_id assigned from 0 up when the client asks
 * for 0), event batches per watch, `canceled` on cancel, `canceled` + `compact_revision` when
 * the start revision was compacted, a progress response with watch_id -1 for a progress request.
 *
 * Bounds: at most `maxWatchesPerStream` watches (more are answered created + canceled with a
 * reason); each node watch buffers at most `maxWatchBufferedEvents` (then that watch is canceled
 * as slow); when more than `maxWatchBufferBytes` sit unsent on the stream (a reader that stopped
 * reading), every watch is closed and the stream ends with RESOURCE_EXHAUSTED.
 */
import { CompactedError, QuorumError, WatchCancelledError } from '../errors.ts';
import type { Watch } from '../node/watch.ts';
import type { WatchEvent } from '../node/types.ts';
import { requireKeys } from './access.ts';
import type { Call } from './call.ts';
import { headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { toWireKv } from './convert.ts';
import { rangeOfKeys } from './keys.ts';
import { writeHeader, writeKv } from './messages-kv.ts';
import { fromEtcdRev, toEtcdRev } from './revision.ts';
import { GrpcError, Status, toGrpcError } from './status.ts';
import { expectWire, ProtoDecodeError, ProtoReader, ProtoWriter, readFields, safeInt, WIRE_LEN, WIRE_VARINT } from './wire.ts';

/** How long a stream closed as a slow reader may take to drain before it is reset, in ms. */
export const SLOW_STREAM_DRAIN_MS = 5000;
/** Largest response before a `fragment` watch splits its events (etcd: max request bytes). */
const FRAGMENT_BYTES = 1.5 * 1024 * 1024;

interface CreateReq {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  startRevision: number;
  progressNotify: boolean;
  noPut: boolean;
  noDelete: boolean;
  prevKv: boolean;
  watchId: number;
  fragment: boolean;
}

type WatchReq = { readonly kind: 'create'; readonly req: CreateReq } | { readonly kind: 'cancel'; readonly watchId: number } | { readonly kind: 'progress' } | { readonly kind: 'none' };

function filter(m: CreateReq, v: bigint): void {
  if (v === 0n) m.noPut = true;
  else if (v === 1n) m.noDelete = true;
  else throw new ProtoDecodeError(`watch filter ${v} is not a known value`);
}

function decodeCreate(r: ProtoReader): CreateReq {
  const m: CreateReq = { key: new Uint8Array(0), rangeEnd: new Uint8Array(0), startRevision: 0, progressNotify: false, noPut: false, noDelete: false, prevKv: false, watchId: 0, fragment: false };
  readFields(r, (f, w) => {
    switch (f) {
      case 1: expectWire(w, WIRE_LEN, 'key'); m.key = r.bytes(); return true;
      case 2: expectWire(w, WIRE_LEN, 'range_end'); m.rangeEnd = r.bytes(); return true;
      case 3: expectWire(w, WIRE_VARINT, 'start_revision'); m.startRevision = safeInt(r.int64(), 'start_revision'); return true;
      case 4: expectWire(w, WIRE_VARINT, 'progress_notify'); m.progressNotify = r.bool(); return true;
      case 5:
        if (w === WIRE_LEN) {
          const packed = r.message();
          while (!packed.done) filter(m, packed.uint64());
        } else {
          expectWire(w, WIRE_VARINT, 'filters');
          filter(m, r.uint64());
        }
        return true;
      case 6: expectWire(w, WIRE_VARINT, 'prev_kv'); m.prevKv = r.bool(); return true;
      case 7: expectWire(w, WIRE_VARINT, 'watch_id'); m.watchId = safeInt(r.int64(), 'watch_id'); return true;
      case 8: expectWire(w, WIRE_VARINT, 'fragment'); m.fragment = r.bool(); return true;
      default: return false;
    }
  });
  return m;
}

function decodeWatchRequest(bytes: Uint8Array): WatchReq {
  let out: WatchReq = { kind: 'none' };
  const r = new ProtoReader(bytes);
  readFields(r, (f, w) => {
    if (f < 1 || f > 3) return false;
    expectWire(w, WIRE_LEN, 'request_union');
    const inner = r.message();
    if (f === 1) out = { kind: 'create', req: decodeCreate(inner) };
    else if (f === 2) {
      let id = 0;
      readFields(inner, (g, gw) => {
        if (g !== 1) return false;
        expectWire(gw, WIRE_VARINT, 'watch_id');
        id = safeInt(inner.int64(), 'watch_id');
        return true;
      });
      out = { kind: 'cancel', watchId: id };
    } else {
      readFields(inner, () => false);
      out = { kind: 'progress' };
    }
    return true;
  });
  return out;
}

interface WatchResponse {
  readonly revision?: number; // ours
  readonly watchId: number;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compactRevision?: number; // etcd numbering
  readonly cancelReason?: string;
  readonly fragment?: boolean;
  readonly events?: readonly WatchEvent<unknown>[];
}

function encodeResponse(ctx: GrpcContext, r: WatchResponse): Uint8Array {
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx, r.revision));
  w.int(2, r.watchId).bool(3, r.created === true).bool(4, r.canceled === true).int(5, r.compactRevision ?? 0);
  w.string(6, r.cancelReason ?? '').bool(7, r.fragment === true);
  for (const ev of r.events ?? []) {
    w.message(11, (e) => {
      e.int(1, ev.type === 'put' ? 0 : 1);
      writeKv(e, 2, toWireKv(ev.kv, ev.type === 'delete'));
      if (ev.prevKv !== undefined) writeKv(e, 3, toWireKv(ev.prevKv));
    });
  }
  return w.finish();
}

class WatchStream {
  readonly #ctx: GrpcContext;
  readonly #call: Call;
  readonly #watches = new Map<number, Watch<unknown>>();
  #nextId = 0;
  #closed = false;

  constructor(ctx: GrpcContext, call: Call) {
    this.#ctx = ctx;
    this.#call = call;
  }

  send(r: WatchResponse): void {
    if (this.#closed) return;
    this.#call.send(encodeResponse(this.#ctx, r));
    const limit = this.#ctx.limits.maxWatchBufferBytes;
    if (this.#call.unsentBytes > limit) this.#slowReader(limit);
  }

  #slowReader(limit: number): void {
    this.closeAll();
    this.#call.fail(new GrpcError(Status.RESOURCE_EXHAUSTED, `etcdserver: watch stream closed: over ${limit} unsent bytes (slow reader)`));
    const stream = this.#call.stream;
    const timer = setTimeout(() => stream.close(0x8 /* NGHTTP2_CANCEL */), SLOW_STREAM_DRAIN_MS);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  }

  closeAll(): void {
    this.#closed = true;
    for (const w of this.#watches.values()) w.close();
    this.#watches.clear();
  }

  create(m: CreateReq): void {
    let id = m.watchId;
    if (id === 0) {
      while (this.#watches.has(this.#nextId)) this.#nextId++;
      id = this.#nextId++;
    } else if (id < 0 || this.#watches.has(id)) {
      this.send({ watchId: -1, created: true, canceled: true, cancelReason: 'mvcc: duplicate watch ID' });
      return;
    }
    if (this.#watches.size >= this.#ctx.limits.maxWatchesPerStream) {
      this.send({ watchId: id, created: true, canceled: true, cancelReason: `etcdserver: too many watches on one stream (limit ${this.#ctx.limits.maxWatchesPerStream})` });
      return;
    }
    // etcd: an empty key watches "\0"; range_end "\0" means every key >= key.
    const key = m.key.length === 0 ? new Uint8Array([0]) : m.key;
    try {
      requireKeys(this.#ctx, this.#call, 'read', key, m.rangeEnd);
    } catch (err) {
      // Refused alone, as etcd: created + canceled with the auth error's text, watch id -1.
      this.send({ watchId: -1, created: true, canceled: true, cancelReason: toGrpcError(err).message });
      return;
    }
    const range = rangeOfKeys(key, m.rangeEnd);
    const start = m.startRevision > 0 ? Math.max(1, fromEtcdRev(m.startRevision)) : undefined;
    const watch = this.#ctx.node.watch(range, {
      ...(start === undefined ? {} : { startRevision: start }),
      prevKv: m.prevKv,
      noPut: m.noPut,
      noDelete: m.noDelete,
      progressNotify: m.progressNotify,
      maxBufferedEvents: this.#ctx.limits.maxWatchBufferedEvents,
    });
    this.#watches.set(id, watch);
    this.send({ watchId: id, created: true });
    this.#attach(id, watch, m.fragment);
  }

  #attach(id: number, watch: Watch<unknown>, fragment: boolean): void {
    let pending: WatchEvent<unknown>[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      const events = pending;
      pending = [];
      this.#sendEvents(id, events, fragment);
    };
    watch.on('event', (ev: WatchEvent<unknown>) => {
      // One response per batch of events applied in the same turn (etcd batches per revision).
      if (pending.length === 0) setImmediate(flush);
      pending.push(ev);
    });
    watch.on('progress', (p: { readonly revision: number }) => {
      flush();
      this.send({ watchId: id, revision: p.revision });
    });
    watch.on('error', (err: QuorumError) => {
      flush();
      if (this.#watches.get(id) !== watch) return;
      this.#watches.delete(id);
      if (err instanceof CompactedError) this.send({ watchId: id, canceled: true, compactRevision: toEtcdRev(err.compactRevision) });
      else if (err instanceof WatchCancelledError && err.reason === 'closed') this.#call.fail(new GrpcError(Status.UNAVAILABLE, 'etcdserver: server stopped'));
      else this.send({ watchId: id, canceled: true, cancelReason: err.message });
    });
    watch.on('close', flush);
  }

  #sendEvents(id: number, events: WatchEvent<unknown>[], fragment: boolean): void {
    const last = events[events.length - 1] as WatchEvent<unknown>;
    if (!fragment) {
      this.send({ watchId: id, revision: last.revision, events });
      return;
    }
    // Split into responses under FRAGMENT_BYTES; all but the last carry fragment = true.
    let part: WatchEvent<unknown>[] = [];
    let size = 0;
    for (const ev of events) {
      const evSize = ev.kv.key.length + (ev.kv.value instanceof Uint8Array ? ev.kv.value.length : 64) + 64;
      if (part.length > 0 && size + evSize > FRAGMENT_BYTES) {
        this.send({ watchId: id, revision: last.revision, events: part, fragment: true });
        part = [];
        size = 0;
      }
      part.push(ev);
      size += evSize;
    }
    this.send({ watchId: id, revision: last.revision, events: part });
  }

  cancel(id: number): void {
    const w = this.#watches.get(id);
    if (w === undefined) return;
    this.#watches.delete(id);
    w.close();
    this.send({ watchId: id, canceled: true });
  }

  progress(): void {
    this.send({ watchId: -1 });
  }
}

async function watchMethod(ctx: GrpcContext, call: Call): Promise<void> {
  const ws = new WatchStream(ctx, call);
  try {
    for (;;) {
      const bytes = await call.next();
      if (bytes === undefined || call.finished) return;
      const req = decodeWatchRequest(bytes);
      if (req.kind === 'create') {
        try {
          ws.create(req.req);
        } catch (err) {
          // A watch that cannot be created (bad key, node stopping) is refused alone, not the stream.
          if (!(err instanceof QuorumError)) throw err;
          ws.send({ watchId: -1, created: true, canceled: true, cancelReason: err.message });
        }
      }
      else if (req.kind === 'cancel') ws.cancel(req.watchId);
      else if (req.kind === 'progress') ws.progress();
    }
  } finally {
    ws.closeAll();
  }
}

export const watchMethods: Readonly<Record<string, Method>> = {
  '/etcdserverpb.Watch/Watch': { kind: 'stream', fn: watchMethod },
};
