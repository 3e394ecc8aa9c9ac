/**
 * What a gRPC service handler sees: the node, the limits, the response header builder (etcd's
 * ResponseHeader: cluster_id, member_id, revision in etcd numbering, raft_term).
 */
import { memberIdOf } from '../gateway/encode.ts';
import type { QuorumNode } from '../node/node.ts';
import type { Call } from './call.ts';
import type { Header } from './messages-kv.ts';
import { toEtcdRev } from './revision.ts';

export interface GrpcLimits {
  /** Largest gRPC message accepted (etcd: max request bytes 1.5 MiB + 512 KiB gRPC overhead). */
  readonly maxMessageBytes: number;
  /** Concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxStreamsPerConnection: number;
  /** Concurrent HTTP/2 connections. */
  readonly maxConnections: number;
  /** Watches on one Watch stream. */
  readonly maxWatchesPerStream: number;
  /** Bytes queued unsent on a Watch stream before it is closed as a slow reader. */
  readonly maxWatchBufferBytes: number;
  /** Events buffered per watch in the node before that watch is cancelled as slow. */
  readonly maxWatchBufferedEvents: number;
  /** Bytes per Snapshot response message. */
  readonly snapshotChunkBytes: number;
  /** Concurrent Snapshot streams (each holds a whole encoded snapshot in memory). */
  readonly maxSnapshotStreams: number;
}

/** A fixed cluster id: quorumkv does not derive one per cluster yet (docs/grpc.md). */
export const CLUSTER_ID = memberIdOf('quorumkv-cluster');

export interface GrpcContext {
  readonly node: QuorumNode;
  readonly limits: GrpcLimits;
  /** This member's client URL as served. */
  readonly clientUrl: () => string;
  /** Open streams of bounded kinds. */
  readonly open: { snapshots: number };
}

/** The response header at our store revision `revision` (default: the current one). */
export function headerOf(ctx: GrpcContext, revision?: number): Header {
  const s = ctx.node.status();
  return { clusterId: CLUSTER_ID, memberId: memberIdOf(s.id), revision: toEtcdRev(revision ?? s.revision), raftTerm: s.term };
}

/** Node call options bound to the gRPC call (deadline and cancellation, and the auth revision it was checked at). */
export function callOptions(call: Call): { readonly signal: AbortSignal; readonly authRevision?: number } {
  return call.authRevision === undefined ? { signal: call.signal } : { signal: call.signal, authRevision: call.authRevision };
}

/** A unary method: one request message in, one response message out. */
export type UnaryMethod = (ctx: GrpcContext, request: Uint8Array, call: Call) => Promise<Uint8Array>;
/** A streaming method (server- or bidi-streaming): reads and writes on the call itself. */
export type StreamMethod = (ctx: GrpcContext, call: Call) => Promise<void>;

export type Method = { readonly kind: 'unary'; readonly fn: UnaryMethod } | { readonly kind: 'stream'; readonly fn: StreamMethod };
