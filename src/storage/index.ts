/** The persistence adapter: durable file storage and the in-memory storage for tests/simulation. */
export { fileStorage, DEFAULT_KEEP_SNAPSHOTS, DEFAULT_MAX_RECORD_BYTES, DEFAULT_SEGMENT_BYTES } from './file-storage.ts';
export { memoryStorage, type MemoryStorage } from './memory-storage.ts';
export type { FileStorageOptions, SaveBatch, SnapshotData, Storage } from './types.ts';
