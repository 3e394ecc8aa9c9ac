import { startCluster, sleep } from '../helpers/cluster.ts';
for (const load of [true, true, true, true, true, false, false]) {
  const c = await startCluster(3);
  await Promise.all([...c.nodes.values()].map((n) => n.ready()));
  let stop = false;
  const fs = [...c.nodes.values()].filter((n) => n.status().role !== 'leader');
  const writers = load ? fs.map(async (n) => { for (let i = 0; !stop; i++) await n.put('/x' + i, i, { timeoutMs: 1000 }).catch(() => {}); }) : [];
  await sleep(200);
  const old = c.leader()!;
  const t = Date.now();
  let lagMax = 0; let last = Date.now();
  const lag = setInterval(() => { const now = Date.now(); lagMax = Math.max(lagMax, now - last - 5); last = now; }, 5);
  c.net.isolate(old.id);
  const nl = await c.waitLeader(5000, old.id);
  console.log('load', load, 'failover', Date.now() - t, 'ms; max loop lag', lagMax, 'term', nl.status().term);
  clearInterval(lag);
  stop = true; await Promise.all(writers);
  await c.closeAll();
}
