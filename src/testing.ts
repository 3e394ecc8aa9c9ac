/**
 * `quorumkv/testing`: the in-process building blocks for tests and simulations — a simulated
 * network with seeded faults and a memory storage — so many members can live in one process
 * without sockets or disks. The same names are exported from the package root too.
 */
export { MemoryNetwork, memoryTransport } from './transport/memory-transport.ts';
export { memoryStorage } from './storage/memory-storage.ts';
export type { MemoryStorage } from './storage/memory-storage.ts';
