/**
 * Service registration and discovery: three instances of the `api` service register themselves
 * (one per member) with a 1 s TTL; a client watches the live list. One instance deregisters on a
 * clean shutdown; another's member goes away without a word and its entry disappears when its
 * lease expires. Run: `npm run example:discovery`.
 */
import { createRegistry } from '../src/index.ts';
import type { QuorumNode } from '../src/index.ts';
import { say, startLocalCluster } from './support/local-cluster.ts';

interface Endpoint {
  readonly url: string;
}

const cluster = await startLocalCluster(3);
const stop = new AbortController();
try {
  const leader = cluster.leader();
  const others = cluster.nodes.filter((n) => n !== leader) as [QuorumNode, QuorumNode];
  const client = createRegistry<Endpoint>(leader);
  const seen: string[][] = [];
  const watching = (async () => {
    for await (const live of client.watch('api', { signal: stop.signal })) {
      seen.push(live.map((i) => i.instance));
      say('client', `live api instances: [${live.map((i) => `${i.instance} → ${i.meta.url}`).join(', ')}]`);
    }
  })();

  const regs = await Promise.all(
    [leader, ...others].map((node, i) => createRegistry<Endpoint>(node).register('api', `api-${i + 1}`, { url: `http://10.0.0.${i + 1}:8080` }, { ttlMs: 1_000 })),
  );
  const found = await client.discover('api');
  say('client', `discover('api') → ${found.length} instances`);

  await regs[0]?.deregister();
  say('api-1', 'deregistered on shutdown');

  const crashed = others[1];
  const started = Date.now();
  say('api-3', `its member ${crashed.status().id} goes away without deregistering…`);
  await crashed.close();
  while (!(seen.at(-1)?.length === 1) && Date.now() - started < 8_000) await new Promise((r) => setTimeout(r, 20));
  say('client', `api-3 dropped out ${Date.now() - started} ms later (lease expired)`);
  if (seen.at(-1)?.join() !== 'api-2') throw new Error(`unexpected final list ${seen.at(-1)?.join()}`);
  await regs[1]?.deregister();
  stop.abort();
  await watching;
} finally {
  stop.abort();
  await cluster.close();
}
