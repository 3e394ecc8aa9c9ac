/**
 * The slice of `RawNode` the simulator drives (the module map's API). The simulator takes a
 * factory so it can be compiled and smoke-tested against a fake before the real core exists.
 */
import type { ConfChange, Message, NodeId } from '../../src/protocol/types.ts';
import type { RaftConfig, RaftStatus, Ready } from '../../src/raft/types.ts';

export interface RaftCore {
  tick(): void;
  step(msg: Message): void;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  readIndex(context: Uint8Array): void;
  transferLeadership(to: NodeId): void;
  campaign(): void;
  reportUnreachable(id: NodeId): void;
  reportConnectionLost(id: NodeId): void;
  reportSnapshot(id: NodeId, delivered: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(): void;
  status(): RaftStatus;
}

export type CoreFactory = (config: RaftConfig) => RaftCore;
