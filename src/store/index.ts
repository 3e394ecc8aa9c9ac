/** The replicated state machine: see docs/store.md. */
export { Store } from './store.ts';
export { LeaseExpiry } from './lease-expiry.ts';
export { encodeCommand, decodeCommand } from './codec.ts';
export { DEFAULT_LIMITS } from './validate.ts';
export { DEFAULT_MAX_BUFFERED_EVENTS, REPLAY_CHUNK_EVENTS } from './watch-hub.ts';
export { SNAPSHOT_MAGIC, SNAPSHOT_VERSION, ENCODE_YIELD_EVERY, ENCODE_SLICE_MS } from './snapshot.ts';
export type { StoreSnapshot, EncodeAsyncOptions, RestoreAsyncOptions, SliceOptions } from './snapshot.ts';
export type * from './types.ts';
