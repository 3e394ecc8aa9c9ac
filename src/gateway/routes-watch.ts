/**
 * `POST /v3/watch`: etcd's gateway streams newline-delimited JSON. The body holds one
 * `{"create_request": {...}}`; the reply is `{"result":{"header":…,"created":true}}` and then one
 * `{"result":{"header":…,"events":[…]}}` per batch of applied revisions, until the client hangs
 * up. A watch that ends on the node's side (compacted, slow, node closing) sends a last
 * `{"result":{…,"canceled":true,"cancel_reason":…}}` and ends the response — never silently.
 *
 * Backpressure: events are drained eagerly and written to the socket; when more than
 * `maxWatchBufferBytes` sit unsent the watch is cancelled as slow, as etcd does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CompactedError, InvalidArgumentError, QuorumError } from '../errors.ts';
import type { WatchEvent } from '../node/types.ts';
import type { RouteContext } from './context.ts';
import { header, kvJson } from './encode.ts';
import type { JsonObject } from './types.ts';
import { asObject, optArray, optBool, optInt, pick, rangeOf } from './validate.ts';

interface WatchRequest {
  readonly range: ReturnType<typeof rangeOf>;
  readonly options: { startRevision?: number; prevKv?: boolean; noPut?: boolean; noDelete?: boolean; progressNotify?: boolean };
  readonly watchId: number;
}

function parseCreate(body: Readonly<Record<string, unknown>>): WatchRequest {
  const create = asObject(pick(body, 'create_request'), 'create_request');
  const options: WatchRequest['options'] = {};
  const start = optInt(create, 'start_revision');
  if (start) options.startRevision = start;
  if (optBool(create, 'prev_kv')) options.prevKv = true;
  if (optBool(create, 'progress_notify')) options.progressNotify = true;
  for (const f of optArray(create, 'filters')) {
    if (f === 'NOPUT' || f === 0) options.noPut = true;
    else if (f === 'NODELETE' || f === 1) options.noDelete = true;
    else throw new InvalidArgumentError('gateway: filters must hold NOPUT or NODELETE');
  }
  return { range: rangeOf(create), options, watchId: optInt(create, 'watch_id') ?? 0 };
}

function eventJson(ev: WatchEvent<unknown>): JsonObject {
  const out: JsonObject = { type: ev.type === 'put' ? 'PUT' : 'DELETE', kv: kvJson(ev.kv, ev.type === 'delete') };
  if (ev.prevKv !== undefined) out['prev_kv'] = kvJson(ev.prevKv);
  return out;
}

/**
 * How long a watch response cancelled as slow may take to drain its last bytes before its
 * connection is destroyed, in ms (or `requestReadTimeoutMs`, the slow-client guard, when that is
 * shorter): a client that stopped reading would otherwise pin up to `maxWatchBufferBytes` (and
 * its socket) for as long as it stays connected.
 */
export const SLOW_WATCH_DRAIN_MS = 5000;

export async function watchRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const w = parseCreate(ctx.body);
  const watch = ctx.node.watch(w.range, { ...w.options, signal: ctx.call.signal });
  const idField: JsonObject = w.watchId !== 0 ? { watch_id: String(w.watchId) } : {};
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  let slow = false;
  const line = (result: JsonObject, revision?: number): string => `${JSON.stringify({ result: { header: header(ctx.node.status(), revision), ...idField, ...result } })}\n`;
  const write = (result: JsonObject, revision?: number): void => {
    // Once cancelled as slow, the cancel line is the last thing the client gets.
    if (slow || res.writableEnded || res.destroyed) return;
    res.write(line(result, revision));
    // Every write is checked (events and progress alike): a client that stops reading must not
    // make the response buffer grow without bound.
    if (res.writableLength > ctx.config.maxWatchBufferBytes) {
      slow = true;
      res.write(line({ canceled: true, cancel_reason: `gateway: watch stream over ${ctx.config.maxWatchBufferBytes} unsent bytes (slow client)` }));
      watch.close();
    }
  };
  write({ created: true });
  let pending: JsonObject[] = [];
  let lastRevision = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    const events = pending;
    pending = [];
    write({ events }, lastRevision);
  };
  const onSocketClose = (): void => watch.close();
  try {
    await new Promise<void>((resolve) => {
      watch.on('event', (ev: WatchEvent<unknown>) => {
        if (pending.length === 0) setImmediate(flush);
        pending.push(eventJson(ev));
        lastRevision = ev.revision;
      });
      watch.on('progress', (p: { readonly revision: number }) => {
        flush();
        write({}, p.revision);
      });
      watch.on('error', (err: QuorumError) => {
        flush();
        const out: JsonObject = { canceled: true, cancel_reason: err.message, code: err.code };
        if (err instanceof CompactedError) out['compact_revision'] = String(err.compactRevision);
        write(out);
      });
      watch.on('close', () => {
        flush();
        resolve();
      });
      // One listener per watch on a socket that keep-alive may reuse for many requests: removed below.
      req.socket.on('close', onSocketClose);
      res.on('close', () => watch.close());
      if (watch.closed) resolve();
    });
  } finally {
    req.socket.off('close', onSocketClose);
  }
  if (!res.writableEnded) res.end();
  if (slow && !res.writableFinished) {
    const timer = setTimeout(() => res.destroy(), Math.min(SLOW_WATCH_DRAIN_MS, ctx.config.requestReadTimeoutMs));
    timer.unref();
    res.once('close', () => clearTimeout(timer));
  }
}
