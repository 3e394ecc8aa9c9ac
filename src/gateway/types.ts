import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QuorumNode } from '../node/node.ts';

/**
 * Options and handle of the HTTP/JSON client endpoint (etcd v3 JSON gateway shapes). `createNode({
 * client })` passes its `client` object here unchanged, so every field is validated at run time.
 */

/** TLS for the client endpoint. PEM contents (not paths); the member CLI reads the files. */
export interface ClientTlsOptions {
  readonly cert: string | Uint8Array;
  readonly key: string | Uint8Array;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  readonly ca?: string | Uint8Array;
}

export interface ClientEndpointOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** TCP port; 0 picks a free one (read it from `ClientServer.url`). @default 2379 */
  readonly port?: number;
  /** Same as `host`/`port` (the shape of the issue's `client: { listen: { host, port } }`); wins over them. */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** Serve https with this certificate. @default plain http */
  readonly tls?: ClientTlsOptions;
  /**
   * Bearer token: every request except `GET /health` must carry `Authorization: Bearer <token>`
   * (or the bare token, as etcd's gateway sends it). Compared in constant time. @default none
   */
  readonly token?: string;
  /** Largest decoded request (keys + values) in bytes; match the node's. @default 1.5 MiB */
  readonly maxRequestBytes?: number;
  /** JSON/base64 slack allowed on top of 4/3 × maxRequestBytes for the raw body. @default 64 KiB */
  readonly requestOverheadBytes?: number;
  /** Concurrent TCP connections. @default 1024 */
  readonly maxConnections?: number;
  /** Concurrent `/v3/watch` streams. @default 1000 */
  readonly maxWatchStreams?: number;
  /**
   * Concurrent `/v3/maintenance/snapshot` streams. Each holds a whole encoded snapshot in memory
   * until its client has read it, so they are few. @default 2
   */
  readonly maxSnapshotStreams?: number;
  /** Bytes queued on a slow watch stream's socket before the watch is cancelled. @default 4 MiB */
  readonly maxWatchBufferBytes?: number;
  /** Bytes of snapshot per streamed chunk of `/v3/maintenance/snapshot`. @default 64 KiB */
  readonly snapshotChunkBytes?: number;
  /** Bound on each node call in ms. @default the node's requestTimeoutMs */
  readonly requestTimeoutMs?: number;
  /** Time allowed to receive a request's headers and body, in ms (slow-client guard). @default 30_000 */
  readonly requestReadTimeoutMs?: number;
  /**
   * The client URLs this member publishes to the cluster (what `member list` shows and etcdctl's
   * `--cluster` dials): set it when the endpoint listens on `0.0.0.0` or behind NAT. http(s)://,
   * at most MAX_MEMBER_URLS. @default the URL it serves on
   */
  readonly advertiseUrls?: readonly string[];
}

/** The running endpoint. */
export interface ClientServer {
  /** `http://127.0.0.1:2379` (the bound port when 0 was asked for). */
  readonly url: string;
  /** Stops accepting, ends open watch streams, resolves when the listener is closed. Idempotent. */
  close(): Promise<void>;
}

/** What a mounted HTTP adapter gets with each request it serves. */
export interface MountContext {
  readonly node: QuorumNode;
  readonly config: ClientEndpointConfig;
  /** This endpoint's own URL. */
  readonly url: string;
  /** The request path without its query. */
  readonly path: string;
  /** Whether the request carries the endpoint's token (always true without a token). */
  readonly authorized: boolean;
  /**
   * The etcd auth token the request carries (`token` header, or `Authorization` when the endpoint
   * has no token of its own), for `node.auth.identify()` (docs/auth.md).
   */
  readonly authToken: string | undefined;
}

/**
 * Another HTTP adapter on the client port (the v2 keys API, metrics and probes): asked first for
 * every HTTP/1.1 request; when it `matches` the path it owns the request and its reply. What it
 * throws is answered as a gateway JSON error; it answers in its own protocol's shape otherwise.
 */
export interface HttpMount {
  matches(path: string): boolean;
  handle(ctx: MountContext, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** The normalized, frozen endpoint configuration. */
export interface ClientEndpointConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: ClientTlsOptions | undefined;
  readonly token: string | undefined;
  readonly maxRequestBytes: number;
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
  readonly maxWatchStreams: number;
  readonly maxSnapshotStreams: number;
  readonly maxWatchBufferBytes: number;
  readonly snapshotChunkBytes: number;
  readonly requestTimeoutMs: number | undefined;
  readonly requestReadTimeoutMs: number;
  readonly advertiseUrls: readonly string[] | undefined;
}

/** A JSON value as we emit it. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [field: string]: Json;
}
