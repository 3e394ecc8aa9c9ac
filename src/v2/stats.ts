/**
 * `/v2/stats/self`, `/v2/stats/leader` and `/v2/stats/store` in etcd's shapes. The store counters
 * count the v2 requests this member served; Raft traffic counters etcd keeps per member are not
 * kept here and read 0.
 */
import type { JsonObject } from '../gateway/types.ts';
import type { QuorumNode } from '../node/node.ts';
import { memberHexId } from './members.ts';

/** What a v2 keys request did. */
export type RequestKind = 'gets' | 'sets' | 'delete' | 'create' | 'update' | 'compareAndSwap' | 'compareAndDelete';
export type StoreCounter = `${RequestKind}${'Success' | 'Fail'}` | 'expireCount';

/** Counters of the v2 requests one endpoint served, and the member's start time. */
export class V2Stats {
  readonly #counts = new Map<StoreCounter, number>();
  readonly #startTime = new Date().toISOString();

  count(counter: StoreCounter): void {
    this.#counts.set(counter, (this.#counts.get(counter) ?? 0) + 1);
  }

  store(watchers: number): JsonObject {
    const out: JsonObject = {};
    for (const c of ['getsSuccess', 'getsFail', 'setsSuccess', 'setsFail', 'deleteSuccess', 'deleteFail', 'updateSuccess', 'updateFail', 'createSuccess', 'createFail', 'compareAndSwapSuccess', 'compareAndSwapFail', 'compareAndDeleteSuccess', 'compareAndDeleteFail', 'expireCount'] as const) {
      out[c] = this.#counts.get(c) ?? 0;
    }
    out['watchers'] = watchers;
    return out;
  }

  self(node: QuorumNode): JsonObject {
    const st = node.status();
    return {
      name: st.id,
      id: memberHexId(st.id),
      state: st.role === 'leader' ? 'StateLeader' : st.role === 'candidate' || st.role === 'preCandidate' ? 'StateCandidate' : 'StateFollower',
      startTime: this.#startTime,
      leaderInfo: { leader: st.leader === '' ? '' : memberHexId(st.leader), uptime: '', startTime: '' },
      recvAppendRequestCnt: 0,
      sendAppendRequestCnt: 0,
    };
  }

  /** etcd answers `/v2/stats/leader` only on the leader. */
  leader(node: QuorumNode): JsonObject | undefined {
    const st = node.status();
    if (st.role !== 'leader') return undefined;
    const followers: JsonObject = {};
    for (const m of st.members) {
      if (m.id !== st.id) followers[memberHexId(m.id)] = { latency: { current: 0, average: 0, standardDeviation: 0, minimum: 0, maximum: 0 }, counts: { fail: 0, success: 0 } };
    }
    return { leader: memberHexId(st.id), followers };
  }
}
