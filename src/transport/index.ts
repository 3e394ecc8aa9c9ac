/** The transports (docs/design.md, "Transport"): a simulated in-process network and a secure WebSocket transport. */
export type { Transport, TransportHandlers } from './types.ts';
export { MemoryNetwork, memoryTransport } from './memory-transport.ts';
export type { LinkFaults, MemoryNetworkOptions, MemoryNetworkStats } from './memory-transport.ts';
export { WsTransport, wsTransport } from './ws-transport.ts';
export type { WsTransportOptions, WsTlsOptions, WsTransportStats } from './ws-transport.ts';
export type { LinkStats } from './peer-link.ts';
export type { TransportLogger } from './logger.ts';
export { WIRE_FORMAT_VERSION } from './wire.ts';
