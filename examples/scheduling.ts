/**
 * Application scheduling: every member runs a worker and a scheduler candidate. Workers register
 * in the service registry and process the jobs assigned to them. The elected scheduler assigns
 * pending jobs to the live workers; each assignment is a txn fenced with `cmp.owns(election)`, so
 * a deposed scheduler cannot assign. Halfway through, the scheduler's member goes away: a new
 * scheduler is elected, the lost worker's jobs are reassigned once its registration expires, and
 * every job is done exactly once. Run: `npm run example:scheduling`.
 */
import { cmp, createConfig, createElection, createRegistry, op } from '../src/index.ts';
import type { Election, QuorumNode } from '../src/index.ts';
import { say, startLocalCluster } from './support/local-cluster.ts';

const JOBS = 12;
const PENDING = '/jobs/pending/';
const ASSIGNED = '/jobs/assigned/';
const DONE = '/jobs/done/';

/** A worker: registers, then processes each job assigned to it (a live view of its prefix). */
async function startWorker(node: QuorumNode, name: string): Promise<() => void> {
  await createRegistry<{ name: string }>(node).register('workers', name, { name }, { ttlMs: 1_000 });
  const assigned = await createConfig<string>(node, `${ASSIGNED}${name}/`);
  const busy = new Set<string>();
  const work = async (job: string, key: string): Promise<void> => {
    if (busy.has(job)) return;
    busy.add(job);
    await new Promise((r) => setTimeout(r, 80)); // the "work"
    const kv = await node.get(key);
    if (kv === undefined) return; // reassigned meanwhile
    // Done once: only if the assignment is still ours and the job is not done yet.
    const res = await node
      .txn()
      .if(cmp.owns({ key, createRevision: kv.createRevision }), cmp.createRevision(`${DONE}${job}`, '==', 0))
      .then(op.delete(key), op.put(`${DONE}${job}`, name))
      .commit();
    if (res.succeeded) say(name, `finished ${job}`);
  };
  assigned.on('change', (c) => {
    if (c.type === 'set') void work(c.name, c.key).catch(() => undefined);
  });
  for (const job of assigned.snapshot().keys()) void work(job, `${ASSIGNED}${name}/${job}`).catch(() => undefined);
  return () => assigned.close();
}

/** A scheduler candidate: once elected, assigns pending and orphaned jobs until it loses leadership. */
async function runScheduler(node: QuorumNode, name: string, election: Election<string>): Promise<void> {
  await election.campaign(name);
  say(name, 'elected scheduler');
  const registry = createRegistry<{ name: string }>(node);
  let turn = 0;
  while (election.isLeader) {
    const workers = (await registry.discover('workers')).map((w) => w.instance);
    const assigned = (await node.range({ prefix: ASSIGNED }, { keysOnly: true })).kvs.map((kv) => kv.key);
    const orphaned = assigned.filter((k) => !workers.includes(k.slice(ASSIGNED.length).split('/')[0] ?? ''));
    const pending = (await node.range({ prefix: PENDING }, { keysOnly: true })).kvs.map((kv) => kv.key);
    for (const key of [...pending, ...orphaned]) {
      if (workers.length === 0 || !election.isLeader) break;
      const job = key.split('/').at(-1) ?? '';
      const worker = workers[turn++ % workers.length] ?? '';
      const res = await node
        .txn()
        .if(cmp.owns(election), cmp.createRevision(key, '>', 0))
        .then(op.delete(key), op.put(`${ASSIGNED}${worker}/${job}`, job))
        .commit();
      if (res.succeeded) say(name, `${key.startsWith(PENDING) ? 'assigned' : 'reassigned'} ${job} → ${worker}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cluster = await startLocalCluster(3);
const stops: (() => void)[] = [];
try {
  const names = cluster.nodes.map((_, i) => `member-${i + 1}`);
  for (const [i, node] of cluster.nodes.entries()) stops.push(await startWorker(node, `worker-${i + 1}`));
  const elections = cluster.nodes.map((node) => createElection<string>(node, '/elections/scheduler', { ttlMs: 1_000 }));
  const schedulers = cluster.nodes.map((node, i) => runScheduler(node, `scheduler-${i + 1}`, elections[i] as Election<string>).catch(() => undefined));
  for (let j = 1; j <= JOBS; j++) await cluster.nodes[0]?.put(`${PENDING}job-${String(j).padStart(2, '0')}`, j);
  say('client', `submitted ${JOBS} jobs`);

  const done = async (): Promise<number> => (await cluster.follower().range({ prefix: DONE }, { countOnly: true })).count;
  while ((await done()) < JOBS / 3) await new Promise((r) => setTimeout(r, 20));
  const leaderIndex = elections.findIndex((e) => e.isLeader);
  say('client', `${names[leaderIndex]} (scheduler and worker-${leaderIndex + 1}) goes away…`);
  await cluster.nodes[leaderIndex]?.close();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const survivor = cluster.nodes.find((_, i) => i !== leaderIndex) as QuorumNode;
    if ((await survivor.range({ prefix: DONE }, { countOnly: true })).count === JOBS) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const survivor = cluster.nodes.find((_, i) => i !== leaderIndex) as QuorumNode;
  const finished = await survivor.range({ prefix: DONE });
  say('result', `${finished.count}/${JOBS} jobs done exactly once (one done key each)`);
  if (finished.count !== JOBS) throw new Error('jobs missing');
  for (const e of elections) await e.resign().catch(() => undefined);
  await Promise.all(schedulers);
} finally {
  for (const stop of stops) stop();
  await cluster.close();
}
