// Membership changes the way an operator makes them: through the cluster API of a running member
// (the leader when one is known), retried within a time budget, and a replaced instance joining
// under a new member id (a removed id never comes back). Not a test file.
import { sleep } from '../helpers/time.ts';
import type { NemesisCluster, Slot } from './cluster.ts';
import { MemberCallError } from './cluster.ts';

/** Bound on one cluster-API call, in ms. */
const callTimeoutMs = 3_000;

interface StatusReply {
  readonly role: string;
}

/** Live members, the leader (if any answers as one) first. */
async function leaderFirst(cluster: NemesisCluster, except: Slot | undefined): Promise<Slot[]> {
  const live = cluster.live().filter((s) => s !== except);
  const roles = await Promise.all(live.map((s) => cluster.call<StatusReply>(s, 'status', {}, 1_000).then((st) => st.role, () => 'unknown')));
  return live.map((s, i) => ({ s, leader: roles[i] === 'leader' })).sort((a, b) => Number(b.leader) - Number(a.leader)).map((x) => x.s);
}

/**
 * Runs a cluster-API `op` until some member accepts it or `budgetMs` passes. `doneCode` is the
 * error that means the change is already in place (a retry after an unknown outcome). True when done.
 */
export async function clusterOp(cluster: NemesisCluster, op: 'add' | 'remove' | 'promote', args: Record<string, unknown>, doneCode: string, budgetMs: number, except?: Slot): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  while (Date.now() < deadline) {
    for (const s of await leaderFirst(cluster, except)) {
      try {
        await cluster.call(s, op, args, callTimeoutMs + 500);
        return true;
      } catch (err) {
        if (err instanceof MemberCallError && err.code === doneCode) return true;
      }
      if (Date.now() >= deadline) break;
    }
    await sleep(200);
  }
  return false;
}

/**
 * Replaces slot `s`'s instance with an empty one: kill -9, remove the old id, wipe, add the new id
 * as a learner, start it with `join`. Once the removal is asked for, the old id never runs again:
 * a removal that timed out may still have been committed. Returns what happened; a slot whose
 * removal or addition did not go through in time (`none`) or that is a learner is finished by
 * {@link completeReplacement}.
 */
export async function replaceInstance(cluster: NemesisCluster, s: Slot, budgetMs: number): Promise<'replaced' | 'pending'> {
  await cluster.kill(s);
  s.role = 'none';
  s.removing = true;
  return (await removeAndAdd(cluster, s, budgetMs)) ? 'replaced' : 'pending';
}

/** Removes the slot's old id (if still to do), then adds and starts the new one; true when it runs. */
async function removeAndAdd(cluster: NemesisCluster, s: Slot, budgetMs: number): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  if (s.removing) {
    if (!(await clusterOp(cluster, 'remove', { member: s.id }, 'MEMBER_NOT_FOUND', budgetMs, s))) return false;
    cluster.wipe(s);
    s.removing = false;
    s.generation++;
    s.id = `n${s.slot}g${s.generation}`;
  }
  const left = Math.max(0, deadline - Date.now());
  if (!(await clusterOp(cluster, 'add', { member: s.id, url: cluster.url(s.slot), learner: true }, 'MEMBER_EXISTS', left, s))) return false;
  s.role = 'learner';
  await cluster.start(s);
  return true;
}

/** Finishes a replacement: removes and adds what is still missing, then promotes; true once it is a voter. */
export async function completeReplacement(cluster: NemesisCluster, s: Slot, budgetMs: number): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  if (s.role === 'none' && !(await removeAndAdd(cluster, s, budgetMs))) return false;
  if (s.role === 'learner') {
    if (!(await clusterOp(cluster, 'promote', { member: s.id }, 'MEMBER_NOT_FOUND', Math.max(0, deadline - Date.now()), s))) return false;
    s.role = 'voter';
  }
  return true;
}
