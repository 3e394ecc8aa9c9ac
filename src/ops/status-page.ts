/**
 * The status page on the client port, as an {@link HttpMount} under `/ui`: the page itself (HTML,
 * script and style shipped in the package, no CDN: `ui/`), and the three read-only JSON calls it
 * makes — `/ui/api/status` (this member's status and metrics, the members with their role and
 * lag), `/ui/api/keys?prefix=&limit=` (a serializable listing) and `/ui/api/watch?prefix=
 * &startRevision=` (newline-delimited JSON events). The page needs no token (it holds no data);
 * the calls need the endpoint's token when it has one, like every client request. Nothing here
 * writes. Bounded: at most {@link MAX_UI_WATCHES} live streams per endpoint, a stream whose reader
 * falls {@link MAX_UI_WATCH_BUFFER_BYTES} behind is ended (the page resumes from its last revision).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PermissionDeniedError, QuorumError } from '../errors.ts';
import type { HttpMount, MountContext } from '../gateway/types.ts';
import { prefixKeys } from '../node/auth/permission-set.ts';
import type { QuorumNode } from '../node/node.ts';
import type { KeyValue, WatchEvent } from '../node/types.ts';
import { PACKAGE_VERSION } from '../node/versions.ts';
import { PAGE_CSS } from './ui/page-css.ts';
import { PAGE_HTML } from './ui/page-html.ts';
import { PAGE_JS } from './ui/page-js.ts';

/** Live key streams open at once on one endpoint. */
export const MAX_UI_WATCHES = 16;
/** Bytes a stream may have queued for a slow page before it is ended. */
export const MAX_UI_WATCH_BUFFER_BYTES = 1024 * 1024;
/** Keys one listing returns at most (the default is 200). */
export const MAX_UI_KEYS = 1000;
/** Characters of a value shown; longer values are cut with `…`. */
export const VALUE_PREVIEW_CHARS = 200;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

const ASSETS: ReadonlyMap<string, { readonly type: string; readonly body: string }> = new Map([
  ['/ui/', { type: 'text/html; charset=utf-8', body: PAGE_HTML }],
  ['/ui/app.js', { type: 'text/javascript; charset=utf-8', body: PAGE_JS }],
  ['/ui/app.css', { type: 'text/css; charset=utf-8', body: PAGE_CSS }],
]);

class UiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, body: unknown): void => send(res, status, 'application/json', JSON.stringify(body));

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A value as the page shows it: text when it is UTF-8 (or a string), else base64; JSON for structured values. */
export function previewValue(value: unknown): string {
  let text: string;
  if (value instanceof Uint8Array) {
    try {
      text = utf8.decode(value);
    } catch {
      text = `base64:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}`;
    }
  } else if (typeof value === 'string') text = value;
  else if (value === undefined) text = '';
  else {
    try {
      text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > VALUE_PREVIEW_CHARS ? `${text.slice(0, VALUE_PREVIEW_CHARS)}…` : text;
}

function shownKv(kv: KeyValue<unknown>): Record<string, unknown> {
  return { key: kv.key, value: previewValue(kv.value), modRevision: kv.modRevision, createRevision: kv.createRevision, version: kv.version, lease: kv.lease ?? 0 };
}

function intParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UiError(400, `ui: ${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

function statusBody(node: QuorumNode): Record<string, unknown> {
  const status = node.status();
  const metrics = node.metrics();
  const members = status.members.map((m) => ({
    id: m.id,
    url: m.url,
    learner: m.learner,
    role: m.learner ? 'learner' : m.id === status.leader ? 'leader' : status.leader === '' ? 'unknown' : 'follower',
    // Known on the leader only (it tracks what each member has replicated).
    lag: m.id === status.id ? 0 : (metrics.memberLag[m.id] ?? null),
  }));
  return { time: Date.now(), version: PACKAGE_VERSION, status, members, metrics };
}

async function listKeys(node: QuorumNode, params: URLSearchParams): Promise<Record<string, unknown>> {
  const prefix = params.get('prefix') ?? '';
  const limit = intParam(params, 'limit', 200, 1, MAX_UI_KEYS);
  const range = prefix === '' ? { start: '\u0000' } : { prefix };
  const r = await node.range(range, { limit, consistency: 'serializable' });
  return { kvs: r.kvs.map(shownKv), count: r.count, more: r.more, revision: r.revision };
}

function streamWatch(node: QuorumNode, params: URLSearchParams, res: ServerResponse, done: () => void): void {
  const prefix = params.get('prefix') ?? '';
  const startRevision = intParam(params, 'startRevision', 0, 0, Number.MAX_SAFE_INTEGER);
  const range = prefix === '' ? { start: '\u0000' } : { prefix };
  const watch = node.watch(range, startRevision > 0 ? { startRevision } : {});
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/x-ndjson' });
  // Node holds the headers until the first body write, and a quiet prefix may have none for long.
  res.flushHeaders();
  let ended = false;
  const end = (last?: Record<string, unknown>): void => {
    if (ended) return;
    ended = true;
    watch.close();
    if (last !== undefined && res.writable) res.write(`${JSON.stringify(last)}\n`);
    res.end();
    done();
  };
  watch.on('event', (e: WatchEvent<unknown>) => {
    if (ended) return;
    res.write(`${JSON.stringify({ type: e.type, kv: shownKv(e.kv), revision: e.revision })}\n`);
    if (res.writableLength > MAX_UI_WATCH_BUFFER_BYTES) end({ type: 'closed', reason: 'slow reader' });
  });
  watch.on('error', (err) => end({ type: 'closed', reason: err.message, code: err.code }));
  watch.on('close', () => end());
  // Not req's 'close': it fires once the (empty) request body is read, not when the page goes away.
  res.on('close', () => end());
}

/**
 * With etcd auth enabled, key data (the listing and the live stream) needs a token whose user may
 * read the whole prefix (docs/auth.md); the status itself holds no key data.
 */
function requireRead(ctx: MountContext, prefix: string): void {
  const auth = ctx.node.auth;
  if (!auth.enabled) return;
  try {
    const keys = prefixKeys(prefix);
    auth.requireKeys(auth.identify(ctx.authToken), 'read', keys.key, keys.rangeEnd);
  } catch (err) {
    if (!(err instanceof QuorumError)) throw err;
    // No token at all is a 401 too, so the page asks for one.
    const denied = err instanceof PermissionDeniedError && !err.anonymous;
    throw new UiError(denied ? 403 : 401, `ui: ${err.message}`);
  }
}

/** The `/ui` mount. One per endpoint: it counts that endpoint's open streams. */
export function statusPageMount(): HttpMount {
  let openWatches = 0;
  return {
    matches: (path) => path === '/ui' || path.startsWith('/ui/'),
    async handle(ctx: MountContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.setHeader('allow', 'GET, HEAD');
          throw new UiError(405, `ui: ${req.method ?? ''} not allowed on ${ctx.path}; the status page is read-only`);
        }
        req.resume();
        if (ctx.path === '/ui') {
          res.writeHead(308, { ...SECURITY_HEADERS, location: '/ui/' });
          res.end();
          return;
        }
        const asset = ASSETS.get(ctx.path);
        if (asset !== undefined) return send(res, 200, asset.type, asset.body);
        if (!ctx.path.startsWith('/ui/api/')) throw new UiError(404, `ui: no page at ${ctx.path}`);
        if (!ctx.authorized) {
          res.setHeader('www-authenticate', 'Bearer');
          throw new UiError(401, 'ui: this endpoint needs its token');
        }
        const params = new URL(req.url ?? '/', 'http://x').searchParams;
        if (ctx.path !== '/ui/api/status') requireRead(ctx, params.get('prefix') ?? '');
        switch (ctx.path) {
          case '/ui/api/status':
            return sendJson(res, 200, statusBody(ctx.node));
          case '/ui/api/keys':
            return sendJson(res, 200, await listKeys(ctx.node, params));
          case '/ui/api/watch':
            if (openWatches >= MAX_UI_WATCHES) throw new UiError(503, `ui: ${MAX_UI_WATCHES} live streams already open on this endpoint; retry later`);
            openWatches++;
            try {
              streamWatch(ctx.node, params, res, () => openWatches--);
            } catch (err) {
              openWatches--;
              throw err;
            }
            return;
          default:
            throw new UiError(404, `ui: no call ${ctx.path}`);
        }
      } catch (err) {
        if (res.headersSent) {
          res.end();
          return;
        }
        if (err instanceof UiError) return sendJson(res, err.status, { error: err.message });
        if (err instanceof QuorumError) return sendJson(res, err.retryable ? 503 : 400, { error: err.message, code: err.code });
        throw err;
      }
    },
  };
}
