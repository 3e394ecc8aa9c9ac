/**
 * Whether a member should receive client traffic (`/readyz`): it is running, it knows a leader,
 * and it has applied what it knows to be committed, to within {@link READY_MAX_APPLY_LAG_ENTRIES}.
 * quorumkv raises no alarms (no NOSPACE: the store is in memory), so none can hold it unready.
 */
import type { QuorumNode } from '../node/node.ts';

/** Committed entries a member may have left to apply and still count as ready. */
export const READY_MAX_APPLY_LAG_ENTRIES = 1_000;

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export function readinessOf(node: QuorumNode): Readiness {
  if (node.closed) return { ready: false, reason: 'the member is stopped' };
  const s = node.status();
  if (s.leader === '') return { ready: false, reason: 'no leader known' };
  const lag = s.commitIndex - s.appliedIndex;
  if (lag > READY_MAX_APPLY_LAG_ENTRIES) return { ready: false, reason: `applied index ${lag} entries behind commit (at most ${READY_MAX_APPLY_LAG_ENTRIES})` };
  return { ready: true };
}
