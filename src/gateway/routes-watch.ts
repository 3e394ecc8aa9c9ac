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
import type { WatchEvent } from '../index.ts';
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

export async function watchRoute(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const w = parseCreate(ctx.body);
  const watch = ctx.node.watch(w.range, { ...w.options, signal: ctx.call.signal });
  const idField: JsonObject = w.watchId !== 0 ? { watch_id: String(w.watchId) } : {};
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  const send = (result: JsonObject): void => {
    if (res.writableEnded || res.destroyed) return;
    res.write(`${JSON.stringify({ result: { header: header(ctx.node.status()), ...idField, ...result } })}\n`);
  };
  send({ created: true });
  let pending: JsonObject[] = [];
  let lastRevision = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    const events = pending;
    pending = [];
    if (res.writableEnded || res.destroyed) return;
    res.write(`${JSON.stringify({ result: { header: header(ctx.node.status(), lastRevision), ...idField, events } })}\n`);
    if (res.writableLength > ctx.config.maxWatchBufferBytes) {
      send({ canceled: true, cancel_reason: `gateway: watch stream over ${ctx.config.maxWatchBufferBytes} unsent bytes (slow client)` });
      watch.close();
    }
  };
  await new Promise<void>((resolve) => {
    watch.on('event', (ev: WatchEvent<unknown>) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push(eventJson(ev));
      lastRevision = ev.revision;
    });
    watch.on('progress', (p: { readonly revision: number }) => {
      flush();
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ result: { header: header(ctx.node.status(), p.revision), ...idField } })}\n`);
    });
    watch.on('error', (err: QuorumError) => {
      flush();
      const out: JsonObject = { canceled: true, cancel_reason: err.message, code: err.code };
      if (err instanceof CompactedError) out['compact_revision'] = String(err.compactRevision);
      send(out);
    });
    watch.on('close', () => {
      flush();
      resolve();
    });
    req.socket.on('close', () => watch.close());
    res.on('close', () => watch.close());
    if (watch.closed) resolve();
  });
  if (!res.writableEnded) res.end();
}
