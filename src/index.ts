/**
 * quorumkv — etcd as a library. `createNode()` makes this process a Raft member of a replicated,
 * revisioned key-value store with watches, leases and transactions (docs/design.md,
 * "Public contract").
 */
export { createNode, clientUrlOf } from './create-node.ts';
export { QuorumNode } from './node/node.ts';
export type { AddMemberOptions, BackupInfo, ClusterApi } from './node/node.ts';
export type { NodeOptions, NodeConfig, ClientEndpointConfig, MetricsOptions } from './node/options.ts';
export type { MetricsSnapshot, HistogramSnapshot, HistogramBucket, PeerMetrics } from './node/metrics.ts';
export type { MetricsRegistry, RegistryMetric } from './node/prom-registry.ts';
export type { PutTraceContext, RangeTraceContext, MemberTraceContext, ProposeTraceContext, ApplyTraceContext, SnapshotTraceContext } from './node/tracing.ts';
export { cmp, op, TxnBuilder } from './node/txn-builder.ts';
export type { Cmp, Op, TxnSpec, KeyOrRange, OpPutOptions, OpDeleteOptions, OpRangeOptions } from './node/txn-builder.ts';
export { Watch } from './node/watch.ts';
export type { WatchEvents } from './node/watch.ts';
export { AuthApi } from './node/auth/auth-api.ts';
export type { AuthIdentity, UserInfo, RoleInfo } from './node/auth/auth-api.ts';
export type { Access as KeyAccess, Permission, PermissionType } from './node/auth/types.ts';
export { Lease } from './node/leases.ts';
export type { LeaseEvents } from './node/leases.ts';
export { msgpackCodec } from './node/codec.ts';
export type {
  CallOptions,
  CompactOptions,
  Consistency,
  DeleteOptions,
  DeleteResult,
  Expect,
  GetOptions,
  KeyValue,
  KeyRange,
  LeaseInfo,
  LeaseTimeToLive,
  Logger,
  Member,
  NodeEvents,
  NodeStatus,
  CloseEvent,
  Progress,
  ProgressOptions,
  PutOptions,
  PutResult,
  RangeCallOptions,
  RangeResult,
  SortOrder,
  SortTarget,
  CompareOp,
  CompareTarget,
  TxnOpResultValue,
  TxnResult,
  ValueCodec,
  WatchCallOptions,
  WatchEvent,
} from './node/types.ts';

export { fileStorage } from './storage/file-storage.ts';
export { memoryStorage } from './storage/memory-storage.ts';
export type { Storage, FileStorageOptions } from './storage/types.ts';
export type { MemoryStorage } from './storage/memory-storage.ts';
export { MemoryNetwork, memoryTransport } from './transport/memory-transport.ts';
export { wsTransport } from './transport/ws-transport.ts';
export type { Transport, TransportHandlers } from './transport/types.ts';
export type { NodeId, RaftRole } from './protocol/types.ts';

export * from './errors.ts';

// Recipes built on the node API (session, lock, election, queue, registry, config, …).
export * from './recipes/index.ts';
