/**
 * One simulated member: its durable storage (the disk, which survives crashes), its current
 * RawNode (the memory, gone on a crash), the driver's state machine and bookkeeping.
 */
import type { ConfState, Message, NodeId } from '../../src/protocol/types.ts';
import type { RaftStatus, Ready } from '../../src/raft/types.ts';
import { INITIAL_STATE_HASH } from './checker.ts';
import type { RaftCore } from './core.ts';
import type { SimStorage } from './sim-storage.ts';

export interface Point {
  readonly index: number;
  readonly confState: ConfState;
  readonly hash: number;
}

export interface InFlight {
  readonly msg: Message;
  readonly at: number;
}

export class SimNode {
  readonly id: NodeId;
  storage: SimStorage;
  core: RaftCore | undefined;
  state: 'up' | 'down' | 'stopped' = 'up';
  incarnation = 0;
  pending: Ready | undefined;
  applied = 0;
  hash = INITIAL_STATE_HASH;
  /** Highest commit index seen in this incarnation (never decreases). */
  commit = 0;
  /** Indices up to here were reported committed to the checker in this incarnation. */
  commitRecorded = 0;
  status: RaftStatus | undefined;
  conf: ConfState = { voters: [], learners: [] };
  points: Point[] = [];
  /** Outstanding ReadIndex requests of this incarnation: context key → acknowledged floor. */
  reads = new Map<string, number>();
  /** Leader terms whose log was checked for completeness. */
  checkedTerm = -1;
  downAt = 0;

  constructor(id: NodeId, storage: SimStorage) {
    this.id = id;
    this.storage = storage;
  }
}

