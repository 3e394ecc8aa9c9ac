/**
 * A do-nothing core used only to smoke-test the harness itself (it compiles against the contract
 * and runs without the real RawNode): it never elects a leader, so a run ends in a liveness
 * violation — which is what the harness must report.
 */
import type { ConfChange, Message, NodeId } from '../../src/protocol/types.ts';
import type { RaftConfig, RaftStatus, Ready } from '../../src/raft/types.ts';
import type { RaftCore } from './core.ts';

export class FakeCore implements RaftCore {
  readonly #config: RaftConfig;
  #handed = false;

  constructor(config: RaftConfig) {
    this.#config = config;
  }

  tick(): void {}
  step(_msg: Message): void {}
  propose(_data: Uint8Array): void {}
  proposeConfChange(_cc: ConfChange): void {}
  readIndex(_context: Uint8Array): void {}
  transferLeadership(_to: NodeId): void {}
  campaign(): void {}
  reportUnreachable(_id: NodeId): void {}
  reportConnectionLost(_id: NodeId): void {}
  reportSnapshot(_id: NodeId, _delivered: boolean): void {}

  hasReady(): boolean {
    return !this.#handed;
  }

  ready(): Ready {
    this.#handed = true;
    const s = this.#config.storage;
    const hs = s.initialState().hardState;
    const lo = Math.max(this.#config.applied ?? 0, s.firstIndex() - 1) + 1;
    const committedEntries = hs.commit >= lo ? s.entries(lo, hs.commit + 1, Infinity) : [];
    return { entries: [], messages: [], messagesAfterPersist: [], committedEntries, readStates: [], droppedReads: [], mustSync: false };
  }

  advance(): void {}

  status(): RaftStatus {
    const s = this.#config.storage;
    const hs = s.initialState().hardState;
    return {
      id: this.#config.id,
      role: 'follower',
      term: hs.term,
      vote: hs.vote,
      leader: '',
      commit: hs.commit,
      applied: this.#handed ? hs.commit : (this.#config.applied ?? 0),
      lastIndex: s.lastIndex(),
      confState: s.initialState().confState,
      leadTransferee: '',
    };
  }
}
