/**
 * The client endpoint: node's built-in http(s) server speaking etcd v3 gateway JSON over a
 * `QuorumNode`. Routing is a fixed table (no framework); every request is authenticated (when a
 * token is set), size-limited, parsed and validated before it reaches the node, and every
 * failure — ours or a bug — becomes a JSON error reply, never a crash of the member.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { UnauthenticatedError, UnreachableError } from '../errors.ts';
import type { QuorumNode } from '../node/node.ts';
import { parseBody, readBody } from './body.ts';
import { normalizeClientOptions } from './config.ts';
import type { Route, RouteContext } from './context.ts';
import { errorReply, HttpError } from './errors.ts';
import { checkBodyKeys, identifyRequest, requestToken, routeAccess } from './access.ts';
import { authRoutes } from './routes-auth.ts';
import { clusterRoutes } from './routes-cluster.ts';
import { kvRoutes } from './routes-kv.ts';
import { leaseRoutes } from './routes-lease.ts';
import { healthBody, maintenanceRoutes, snapshotRoute } from './routes-maintenance.ts';
import { watchRoute } from './routes-watch.ts';
import type { ClientEndpointConfig, ClientEndpointOptions, ClientServer, HttpMount, JsonObject } from './types.ts';

export type { ClientEndpointOptions, ClientServer, HttpMount, MountContext } from './types.ts';

function buildRoutes(): ReadonlyMap<string, Route> {
  const routes = new Map<string, Route>();
  for (const table of [kvRoutes, leaseRoutes, clusterRoutes, maintenanceRoutes, authRoutes]) {
    for (const [path, handler] of Object.entries(table)) routes.set(path, { kind: 'unary', handler });
  }
  routes.set('/v3/watch', { kind: 'stream', handler: watchRoute });
  routes.set('/v3/maintenance/snapshot', { kind: 'stream', handler: snapshotRoute });
  return routes;
}

const ROUTES = buildRoutes();

function sendJson(res: ServerResponse, status: number, body: JsonObject, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    // A stream already started: report in-band, as etcd's gateway does, and end it.
    if (!res.writableEnded) res.end(`${JSON.stringify({ error: body })}\n`);
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function pemOf(value: string | Uint8Array): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Constant-time token check; accepts `Bearer <token>` and the bare token. */
function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const raw = req.headers.authorization ?? '';
  const given = raw.startsWith('Bearer ') ? raw.slice(7) : raw;
  return timingSafeEqual(digest(given), expected);
}

interface ServerState {
  readonly node: QuorumNode;
  readonly config: ClientEndpointConfig;
  readonly tokenDigest: Buffer | undefined;
  url: string;
  readonly mounts: readonly HttpMount[];
  watchStreams: number;
  snapshotStreams: number;
}

async function handle(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const mount = state.mounts.find((m) => m.matches(path));
  if (mount !== undefined) {
    const isAuthorized = state.tokenDigest === undefined || authorized(req, state.tokenDigest);
    const authToken = requestToken(req.headers, state.tokenDigest !== undefined);
    await mount.handle({ node: state.node, config: state.config, url: state.url, path, authorized: isAuthorized, authToken }, req, res);
    return;
  }
  if (path === '/health') {
    if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, 'INVALID_ARGUMENT', `gateway: ${req.method ?? ''} not allowed on /health`, { allow: 'GET, POST' });
    req.resume();
    const h = healthBody(state);
    sendJson(res, h.status, h.body);
    return;
  }
  const route = ROUTES.get(path);
  if (route === undefined) throw new HttpError(404, 'INVALID_ARGUMENT', `gateway: unknown path ${path}`);
  if (req.method !== 'POST') throw new HttpError(405, 'INVALID_ARGUMENT', `gateway: ${req.method ?? ''} not allowed on ${path}; use POST`, { allow: 'POST' });
  if (state.tokenDigest !== undefined && !authorized(req, state.tokenDigest)) {
    throw new UnauthenticatedError('gateway: missing or wrong bearer token');
  }
  const access = routeAccess(path);
  // Read before the checks: a write is refused at apply if auth changed after this point.
  const authRevision = state.node.auth.revision;
  const identity = identifyRequest(state.node, req.headers, access, state.tokenDigest !== undefined);
  const body = parseBody(await readBody(req, state.config.maxBodyBytes));
  const aborter = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  const call = state.config.requestTimeoutMs === undefined ? { signal: aborter.signal, authRevision } : { signal: aborter.signal, timeoutMs: state.config.requestTimeoutMs, authRevision };
  if (access === 'keys') await checkBodyKeys(state.node, identity, path, body, call);
  const ctx: RouteContext = { node: state.node, body, config: state.config, url: state.url, call, identity };
  if (route.kind === 'unary') {
    sendJson(res, 200, await route.handler(ctx));
    return;
  }
  // Streams are bounded by kind: watches hold a connection, snapshots a whole snapshot in memory.
  const kind = path === '/v3/watch' ? 'watchStreams' : 'snapshotStreams';
  const limit = kind === 'watchStreams' ? state.config.maxWatchStreams : state.config.maxSnapshotStreams;
  if (state[kind] >= limit) {
    const option = kind === 'watchStreams' ? 'maxWatchStreams' : 'maxSnapshotStreams';
    throw new UnreachableError(`gateway: ${limit} ${kind === 'watchStreams' ? 'watch' : 'snapshot'} streams already open (${option}); retry later`);
  }
  state[kind] += 1;
  try {
    await route.handler(ctx, req, res);
  } finally {
    state[kind] -= 1;
  }
}

function onRequest(state: ServerState, req: IncomingMessage, res: ServerResponse): void {
  // A client that hangs up mid-request or mid-stream is not an error of ours: without these
  // listeners a late write or a reset socket would surface as an uncaught 'error' event.
  req.on('error', () => {});
  res.on('error', () => {});
  handle(state, req, res).catch((err: unknown) => {
    let revision: number | undefined;
    try {
      revision = state.node.status().revision;
    } catch {
      revision = undefined;
    }
    const reply = errorReply(err, revision);
    // A 5xx is ours, not the client's: the operator must see it (a 500 is a bug).
    if (reply.status >= 500) {
      const line = { err, method: req.method, path: (req.url ?? '/').split('?', 1)[0], status: reply.status };
      if (reply.status === 500) state.node.logger.error(line, 'gateway: internal error');
      else state.node.logger.warn(line, 'gateway: request failed');
    }
    // Oversized or unread bodies: answer, then close the connection rather than drain it.
    const closing = reply.status === 413 || !req.complete;
    sendJson(res, reply.status, reply.body, closing ? { ...reply.headers, connection: 'close' } : reply.headers);
    if (closing) req.resume();
  });
}

/**
 * Other protocols on the same port. `front` wraps the HTTP server in a listener that may hand
 * some connections elsewhere (src/grpc's HTTP/2 front). With TLS configured, the front gets the
 * TLS options and terminates TLS itself; the HTTP server it wraps is then plain HTTP.
 */
export interface ClientServerHooks {
  readonly front?: (http: Server, tls: TlsOptions | undefined) => NetServer;
  /** Other HTTP adapters, asked in order before the gateway's own routes. */
  readonly mounts?: readonly HttpMount[];
}

/**
 * Starts the HTTP/JSON client endpoint for `node`. Resolves once listening; `url` carries the
 * bound port. `createNode({ client })` calls this; the standalone member does too.
 */
export async function startClientServer(node: QuorumNode, options: ClientEndpointOptions = {}, hooks: ClientServerHooks = {}): Promise<ClientServer> {
  const config = normalizeClientOptions(options);
  const state: ServerState = {
    node,
    config,
    tokenDigest: config.token === undefined ? undefined : digest(config.token),
    url: '',
    mounts: hooks.mounts ?? [],
    watchStreams: 0,
    snapshotStreams: 0,
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => onRequest(state, req, res);
  // Node enforces the read timeouts below only when it sweeps its connections, every 30 s by
  // default: sweep often enough that a slow client is dropped close to requestReadTimeoutMs.
  const http = { connectionsCheckingInterval: Math.min(1000, config.requestReadTimeoutMs) };
  const tls: TlsOptions | undefined =
    config.tls === undefined
      ? undefined
      : {
          cert: pemOf(config.tls.cert),
          key: pemOf(config.tls.key),
          ...(config.tls.ca === undefined ? {} : { ca: pemOf(config.tls.ca), requestCert: true, rejectUnauthorized: true }),
          // Node's default is 120 s: a client that never finishes TLS would hold a connection
          // slot that long. The slow-client guard covers the TLS handshake too.
          handshakeTimeout: Math.min(config.requestReadTimeoutMs, 60_000),
        };
  // With a front, the front terminates TLS (and routes by ALPN): the HTTP server behind is plain.
  const server: Server = tls === undefined || hooks.front !== undefined ? createHttpServer(http, listener) : createHttpsServer({ ...http, ...tls }, listener);
  const listening: Server | NetServer = hooks.front !== undefined ? hooks.front(server, tls) : server;
  listening.maxConnections = config.maxConnections;
  server.requestTimeout = config.requestReadTimeoutMs;
  server.headersTimeout = Math.min(config.requestReadTimeoutMs, 60_000);
  // Node leaves the socket open after a TLS error (a handshake timeout included): close it.
  server.on('tlsClientError', (_err: Error, socket: { destroy(): void }) => socket.destroy());
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    listening.once('error', reject);
    listening.listen(config.port, config.host, () => {
      listening.off('error', reject);
      resolve();
    });
  });
  // An http.Server tracks its connections (what closeAllConnections() closes and the read
  // timeouts sweep) only from its own 'listening' event: behind a front it never listens itself,
  // so it is told, or idle keep-alive connections hold close() and slow clients are never cut.
  if (listening !== server) server.emit('listening');
  const address = listening.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  state.url = `${config.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  // Every member lists every member's client URLs: this one's is published through the log.
  node.cluster.advertise(config.advertiseUrls ?? [state.url]);
  let closing: Promise<void> | undefined;
  return {
    get url() {
      return state.url;
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        listening.close(() => resolve());
        if (listening !== server) server.close();
        // Watch streams never end on their own: drop every connection.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
