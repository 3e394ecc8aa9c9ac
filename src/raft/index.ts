/** The Raft core's public surface: RawNode, its contract types and the conf change codec. */
export { RawNode } from './raw-node.ts';
export { bootstrapBatch, decodeConfChange, encodeConfChange } from './conf-change.ts';
export { AssertionError } from './assert.ts';
export { LogCompactedError, LogUnavailableError } from './types.ts';
export type {
  LogStorage,
  ProgressState,
  ProgressStatus,
  RaftConfig,
  RaftLogger,
  RaftStatus,
  Ready,
} from './types.ts';
