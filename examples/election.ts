/**
 * Leader election: one candidate per member campaigns for `/elections/scheduler`. An observer
 * prints every leader change. The leader resigns; the next in line takes over; then the member
 * hosting the new leader shuts down and its lease expires, handing leadership on again.
 * Run: `npm run example:election`.
 */
import { createElection } from '../src/index.ts';
import type { Election } from '../src/index.ts';
import { say, startLocalCluster } from './support/local-cluster.ts';

const cluster = await startLocalCluster(3);
const observer = new AbortController();
try {
  const watcherNode = cluster.nodes[2];
  if (watcherNode === undefined) throw new Error('no member');
  const observing = (async () => {
    for await (const leader of createElection<string>(watcherNode, '/elections/scheduler').observe({ signal: observer.signal })) {
      say('observer', `leader is now ${leader.value} (fencing token ${leader.createRevision})`);
    }
  })().catch((err: unknown) => say('observer', `stopped: ${(err as Error).message}`));

  const candidates: Election<string>[] = cluster.nodes.map((node) => createElection<string>(node, '/elections/scheduler', { ttlMs: 1_000 }));
  const elected = candidates.map((c, i) => c.campaign(`candidate-${i + 1}`).then(() => c));
  const first = await Promise.race(elected);
  say('election', `${(await first.leader())?.value} won; the others wait in line`);
  await first.proclaim(`${(await first.leader())?.value} (busy)`);
  await first.resign();
  const second = await Promise.race(elected.filter((_, i) => candidates[i] !== first));
  say('election', `${(await second.leader())?.value} took over after a resign`);
  // The member hosting the second leader goes away without resigning: its lease stops being
  // renewed and expires (TTL 1 s), which deletes its key and elects the next in line.
  const secondNode = cluster.nodes[candidates.indexOf(second)];
  say('election', `member ${secondNode?.status().id} shuts down without resigning…`);
  const started = Date.now();
  await secondNode?.close();
  const third = await Promise.race(elected.filter((_, i) => candidates[i] !== first && candidates[i] !== second));
  say('election', `${(await third.leader())?.value} elected ${Date.now() - started} ms later (lease expiry)`);
  await third.resign();
  observer.abort();
  await observing;
} finally {
  observer.abort();
  await cluster.close();
}
