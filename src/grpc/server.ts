/**
 * The gRPC endpoint: etcd v3's services over HTTP/2 (node:http2), fed connections by the client
 * endpoint's port-sharing front (the gateway hands over every socket that opens with the HTTP/2
 * preface). Routing is a fixed table of `/package.Service/Method` paths; anything else is
 * UNIMPLEMENTED. Every stream gets a {@link Call}; every failure becomes a gRPC status on that
 * stream only. Bounded: message size, streams per connection, connections, header list size.
 */
import { createServer } from 'node:http2';
import type { Http2Server, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { QuorumNode } from '../node/node.ts';
import { accessOf, authorize } from './access.ts';
import { Call } from './call.ts';
import { tokenCheck } from './client-token.ts';
import type { TokenCheck } from './client-token.ts';
import type { GrpcContext, GrpcLimits, Method } from './context.ts';
import { parseGrpcTimeout } from './framing.ts';
import { authMethods } from './service-auth.ts';
import { clusterMethods } from './service-cluster.ts';
import { kvMethods } from './service-kv.ts';
import { electionMethods } from './service-election.ts';
import { leaseMethods } from './service-lease.ts';
import { lockMethods } from './service-lock.ts';
import { maintenanceMethods } from './service-maintenance.ts';
import { watchMethods } from './service-watch.ts';
import { GrpcError, Status, toGrpcError } from './status.ts';

export type { GrpcLimits } from './context.ts';

/** etcd's default `--max-request-bytes`. */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** etcd's gRPC overhead allowed on top of max-request-bytes for the received message. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

/** A session idle this long with no open stream is closed, in ms. */
export const IDLE_SESSION_MS = 300_000;

export const DEFAULT_LIMITS: GrpcLimits = Object.freeze({
  maxMessageBytes: MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES,
  maxStreamsPerConnection: 1000,
  maxConnections: 1024,
  maxWatchesPerStream: 1000,
  maxWatchBufferBytes: 4 * 1024 * 1024,
  maxWatchBufferedEvents: 10_000,
  snapshotChunkBytes: 64 * 1024,
  maxSnapshotStreams: 2,
});

export interface GrpcServerOptions extends Partial<GrpcLimits> {
  /** Bound on a call without `grpc-timeout`, in ms (the node's requestTimeoutMs applies within). @default none */
  readonly requestTimeoutMs?: number;
  /** Calls must carry this token (client-token.ts); the endpoint passes the gateway's `token`. @default none */
  readonly token?: string;
}

export interface GrpcServer {
  /** Serves one accepted socket whose first bytes are the HTTP/2 client preface. */
  handleConnection(socket: Duplex): void;
  /** Sets the client URL this member announces (MemberList, Status). */
  setClientUrl(url: string): void;
  /** Closes every HTTP/2 session (open streams are reset); resolves when they are gone. */
  close(): Promise<void>;
}

function buildMethods(): ReadonlyMap<string, Method> {
  const out = new Map<string, Method>();
  for (const table of [kvMethods, leaseMethods, watchMethods, clusterMethods, maintenanceMethods, lockMethods, electionMethods, authMethods]) {
    for (const [path, m] of Object.entries(table)) out.set(path, m);
  }
  return out;
}

const METHODS = buildMethods();

function checkLimits(l: GrpcLimits): void {
  for (const [name, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new RangeError(`grpc: ${name} must be a positive integer, got ${String(v)}`);
  }
}

function unimplemented(path: string): GrpcError {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (m === null) return new GrpcError(Status.UNIMPLEMENTED, `malformed method name: ${JSON.stringify(path.slice(0, 200))}`);
  const service = m[1] as string;
  const known = [...METHODS.keys()].some((p) => p.startsWith(`/${service}/`));
  return new GrpcError(Status.UNIMPLEMENTED, known ? `unknown method ${m[2] as string} for service ${service}` : `unknown service ${service}`);
}

/** Creates the gRPC endpoint of `node`. It listens nowhere itself: see {@link GrpcServer.handleConnection}. */
export function createGrpcServer(node: QuorumNode, options: GrpcServerOptions = {}): GrpcServer {
  const { requestTimeoutMs, token, ...limitOptions } = options;
  if (token !== undefined && (typeof token !== 'string' || token === '')) throw new RangeError('grpc: token must be a non-empty string');
  const authorized = tokenCheck(token);
  const limits: GrpcLimits = Object.freeze({ ...DEFAULT_LIMITS, ...limitOptions });
  checkLimits(limits);
  if (requestTimeoutMs !== undefined && (!Number.isSafeInteger(requestTimeoutMs) || requestTimeoutMs <= 0)) throw new RangeError('grpc: requestTimeoutMs must be a positive integer');
  let clientUrl = '';
  const ctx: GrpcContext = { node, limits, clientUrl: () => clientUrl, open: { snapshots: 0 } };
  const sessions = new Set<Http2Session>();
  const openStreams = new Map<Http2Session, number>();
  const h2: Http2Server = createServer({
    settings: { maxConcurrentStreams: limits.maxStreamsPerConnection, maxHeaderListSize: 16 * 1024, enablePush: false },
    maxHeaderListPairs: 128,
    // Streams refused beyond maxConcurrentStreams count against this; a flood then closes the session.
    maxSessionRejectedStreams: 1000,
    maxSessionInvalidFrames: 1000,
    // Memory per session (MB) before new streams are refused: a bound on buffered writes.
    maxSessionMemory: 64,
  });
  h2.on('session', (session: Http2Session) => {
    if (sessions.size >= limits.maxConnections) {
      session.destroy();
      return;
    }
    sessions.add(session);
    openStreams.set(session, 0);
    session.on('close', () => {
      sessions.delete(session);
      openStreams.delete(session);
    });
    session.on('error', () => {});
    // A session with no open stream and no traffic for 5 minutes is dropped; one holding a stream
    // (an idle watch, a keepalive stream of a client without HTTP/2 pings) is kept.
    session.setTimeout(IDLE_SESSION_MS, () => {
      if ((openStreams.get(session) ?? 0) === 0) session.close();
    });
  });
  h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const session = stream.session;
    if (session !== undefined) {
      openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
      stream.once('close', () => {
        const n = openStreams.get(session);
        if (n !== undefined) openStreams.set(session, n - 1);
      });
    }
    onStream(ctx, stream, headers, requestTimeoutMs, authorized, token);
  });
  h2.on('sessionError', () => {});
  h2.on('timeout', () => {});
  let closing: Promise<void> | undefined;
  return {
    handleConnection(socket: Duplex): void {
      if (closing !== undefined) {
        socket.destroy();
        return;
      }
      h2.emit('connection', socket);
    },
    setClientUrl(url: string): void {
      clientUrl = url;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const waits = [...sessions].map((s) => new Promise<void>((resolve) => {
          if (s.destroyed) resolve();
          else {
            s.once('close', () => resolve());
            s.destroy();
          }
        }));
        await Promise.all(waits);
      })();
      return closing;
    },
  };
}

function onStream(ctx: GrpcContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, defaultTimeoutMs: number | undefined, authorized: TokenCheck, token: string | undefined): void {
  stream.on('error', () => {});
  const path = headers[':path'] ?? '';
  const contentType = headers['content-type'] ?? '';
  if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
    // Not gRPC (the gRPC spec: 415 for a wrong content type).
    stream.respond({ ':status': headers[':method'] !== 'POST' ? 405 : 415 }, { endStream: true });
    return;
  }
  let timeoutMs: number | undefined;
  let headerError: GrpcError | undefined;
  try {
    timeoutMs = parseGrpcTimeout(headers['grpc-timeout']) ?? defaultTimeoutMs;
  } catch (err) {
    headerError = toGrpcError(err);
  }
  const encoding = headers['grpc-encoding'];
  const call = new Call(stream, ctx.limits.maxMessageBytes, timeoutMs);
  if (headerError !== undefined) return call.fail(headerError);
  if (encoding !== undefined && encoding !== 'identity') return call.fail(new GrpcError(Status.UNIMPLEMENTED, `grpc: Decompressor is not installed for grpc-encoding "${String(encoding).slice(0, 32)}"`));
  if (!authorized(headers)) {
    stream.resume();
    return call.fail(new GrpcError(Status.UNAUTHENTICATED, 'grpc: missing or wrong client token'));
  }
  const method = METHODS.get(path);
  if (method === undefined) {
    stream.resume();
    return call.fail(unimplemented(path));
  }
  void run(ctx, method, call, path, headers, token !== undefined);
}

async function run(ctx: GrpcContext, method: Method, call: Call, path: string, headers: IncomingHttpHeaders, clientTokenConfigured: boolean): Promise<void> {
  try {
    authorize(ctx, call, headers, accessOf(path), clientTokenConfigured);
    if (method.kind === 'unary') {
      const request = await call.only();
      const reply = await method.fn(ctx, request, call);
      call.send(reply);
    } else {
      await method.fn(ctx, call);
    }
    call.finish(Status.OK);
  } catch (err) {
    const status = toGrpcError(err);
    // UNKNOWN is what an error of ours that is no QuorumError becomes: a bug the operator must see.
    if (!(err instanceof GrpcError) && status.status === Status.UNKNOWN) ctx.node.logger.error({ err, method: path }, 'grpc: internal error');
    call.fail(status);
  }
}
