/**
 * Majority arithmetic over the single voter set (one-at-a-time membership changes mean there is
 * never a joint configuration). Kept allocation-free: the commit computation sorts into a
 * scratch array owned by the caller.
 */
import type { LogIndex, NodeId } from '../protocol/types.ts';

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters hold: sort the voters' match indexes descending
 * and take the one at position quorum - 1. `scratch` is reused between calls.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => LogIndex, scratch: number[]): LogIndex {
  const n = voters.length;
  if (n === 0) return 0;
  scratch.length = n;
  for (let i = 0; i < n; i++) {
    const v = matchOf(voters[i] as NodeId);
    // Insertion sort, descending: n is a handful of voters.
    let j = i - 1;
    while (j >= 0 && (scratch[j] as number) < v) {
      scratch[j + 1] = scratch[j] as number;
      j--;
    }
    scratch[j + 1] = v;
  }
  return scratch[quorumSize(n) - 1] as number;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Tallies the votes of `voters`; a missing entry in `votes` means no answer yet. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (voters.length - rejected < q) return 'lost';
  return 'pending';
}
