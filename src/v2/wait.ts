/**
 * `GET …?wait=true`: a long poll answered with the first change to the key (`recursive`: to
 * anything under it) at or after `waitIndex` (default: the next change). It is a node watch from
 * that revision, closed as soon as one event is answered, when the client hangs up or when the
 * endpoint closes; at most MAX_WAITS wait at once per member. A `waitIndex` below the compaction
 * point is etcd's 401 "The event in requested index is outdated and cleared". A key deleted by
 * the end of its lease (a TTL running out) is etcd's `expire`, live or replayed from history.
 */
import { CompactedError } from '../errors.ts';
import type { JsonObject } from '../gateway/types.ts';
import type { KeyRange, WatchEvent } from '../node/types.ts';
import type { V2Context, V2Reply } from './context.ts';
import { V2Error } from './errors.ts';
import { revisionOfWaitIndex, v2Index } from './indexes.ts';
import { dirMarker, prefixEnd } from './keyspace.ts';
import { deletedNode, dirNode, fileNode } from './node-json.ts';

/** Long polls open at once on one member; one more is answered 300 at once. */
export const MAX_WAITS = 1000;

export interface WaitRequest {
  readonly key: string;
  readonly recursive: boolean;
  readonly waitIndex: number | undefined;
}

/** The range a wait watches: the key, its marker and (recursive) its subtree. */
function rangeOf(r: WaitRequest): KeyRange {
  if (r.key === '/') return { prefix: '/' };
  return r.recursive ? { start: r.key, end: prefixEnd(dirMarker(r.key)) } : { start: r.key, end: `${dirMarker(r.key)}\0` };
}

/** The v2 name of a watched key, or undefined when the event is not the wait's. */
function nameOf(key: string, r: WaitRequest): string | undefined {
  if (key === r.key) return key;
  const marker = dirMarker(r.key);
  if (key === marker) return r.key;
  if (!r.recursive || !key.startsWith(marker)) return undefined;
  return key.endsWith('/') ? key.slice(0, -1) : key;
}

function eventBody(ev: WatchEvent<unknown>, name: string): JsonObject {
  const dir = ev.kv.key.endsWith('/');
  if (ev.type === 'delete') {
    const prev = ev.prevKv;
    const prevNode = prev === undefined ? { key: name } : dir ? dirNode(name, prev) : fileNode(name, prev);
    // A key deleted by its lease's end — a v2 TTL, which v2 never revokes itself — expired.
    return { action: ev.endedLease === undefined ? 'delete' : 'expire', node: deletedNode(name, ev.revision, prev, dir), prevNode };
  }
  const body: JsonObject = { action: 'set', node: dir ? dirNode(name, ev.kv) : fileNode(name, ev.kv) };
  if (ev.prevKv !== undefined) body['prevNode'] = dir ? dirNode(name, ev.prevKv) : fileNode(name, ev.prevKv);
  return body;
}

/**
 * The event of a revision that v2 reports: the deepest put (a key written under directories it
 * made), else the shallowest delete (a directory removed with its subtree).
 */
function reported<E extends { readonly ev: WatchEvent<unknown>; readonly name: string }>(events: readonly E[]): E {
  const puts = events.filter((e) => e.ev.type === 'put');
  const pool = puts.length > 0 ? puts : events;
  const deepest = puts.length > 0;
  return pool.reduce((best, e) => ((deepest ? e.name.length > best.name.length : e.name.length < best.name.length) ? e : best));
}

/** Counts the long polls open on one endpoint. */
export class WaitGate {
  #open = 0;

  get open(): number {
    return this.#open;
  }

  async run(ctx: V2Context, r: WaitRequest, signal: AbortSignal): Promise<V2Reply> {
    if (this.#open >= MAX_WAITS) throw new V2Error(300, `${MAX_WAITS} waits already open on this member (MAX_WAITS); retry later`);
    this.#open += 1;
    try {
      return await waitOnce(ctx, r, signal);
    } finally {
      this.#open -= 1;
    }
  }
}

function waitOnce(ctx: V2Context, r: WaitRequest, signal: AbortSignal): Promise<V2Reply> {
  const status = ctx.node.status();
  const startRevision = r.waitIndex === undefined ? undefined : revisionOfWaitIndex(r.waitIndex);
  const watch = ctx.node.watch<unknown>(rangeOf(r), { ...(startRevision === undefined ? {} : { startRevision }), prevKv: true, signal });
  return new Promise<V2Reply>((resolve, reject) => {
    // One v2 write can be several events at one revision (the directories it made, a recursive
    // delete's keys): they arrive together, and the wait answers with the one v2 reports.
    let batch: { ev: WatchEvent<unknown>; name: string }[] | undefined;
    watch.on('event', (ev) => {
      const name = nameOf(ev.kv.key, r);
      if (name === undefined) return;
      if (batch !== undefined) {
        if (batch[0]?.ev.revision === ev.revision) batch.push({ ev, name });
        return;
      }
      batch = [{ ev, name }];
      const events = batch;
      queueMicrotask(() => {
        const chosen = reported(events);
        resolve({ status: 200, body: eventBody(chosen.ev, chosen.name) });
        watch.close();
      });
    });
    watch.on('error', (err) => {
      if (err instanceof CompactedError) {
        reject(new V2Error(401, `the requested history has been cleared [${v2Index(err.compactRevision)}/${r.waitIndex ?? v2Index(status.revision)}]`, v2Index(ctx.node.status().revision)));
      } else reject(err);
    });
    watch.on('close', () => reject(new V2Error(300, 'the wait ended before a change (the member is closing or the client left)')));
  });
}
