/**
 * Configuration management: an operator writes feature flags under `/config/checkout/` on one
 * member; two service instances on other members hold a typed live view (`createConfig`) and react
 * to each change. The view reads the prefix at revision R and watches from R + 1, so no change is
 * missed between the two. Run: `npm run example:config`.
 */
import { createConfig } from '../src/index.ts';
import type { QuorumNode } from '../src/index.ts';
import { say, startLocalCluster } from './support/local-cluster.ts';

interface Flag {
  readonly enabled: boolean;
  readonly rolloutPercent: number;
}

/** Validates a stored value; a bad one is reported and left out of the view. */
function parseFlag(value: unknown, name: string): Flag {
  const v = value as Partial<Flag> | null;
  if (typeof v !== 'object' || v === null || typeof v.enabled !== 'boolean' || typeof v.rolloutPercent !== 'number') {
    throw new TypeError(`flag ${name} is malformed`);
  }
  return { enabled: v.enabled, rolloutPercent: v.rolloutPercent };
}

const cluster = await startLocalCluster(3);
try {
  const [operator, serviceA, serviceB] = cluster.nodes as [QuorumNode, QuorumNode, QuorumNode];
  await operator.put('/config/checkout/new-ui', { enabled: false, rolloutPercent: 0 });

  const views = await Promise.all([serviceA, serviceB].map((node) => createConfig<Flag>(node, '/config/checkout/', { parse: parseFlag })));
  views.forEach((view, i) => {
    const tag = `service-${i + 1}`;
    say(tag, `loaded at revision ${view.revision}: new-ui ${JSON.stringify(view.get('new-ui'))}`);
    view.on('change', (c) => say(tag, `${c.type} ${c.name} = ${JSON.stringify(c.value)} (revision ${c.revision})`));
    view.on('invalid', ({ name, error }) => say(tag, `ignored ${name}: ${(error as Error).message}`));
  });

  let last = 0;
  for (const percent of [10, 50, 100]) {
    last = (await operator.put('/config/checkout/new-ui', { enabled: true, rolloutPercent: percent })).revision;
    say('operator', `rolled new-ui out to ${percent}%`);
  }
  last = (await operator.put('/config/checkout/dark-mode', 'yes please')).revision; // malformed on purpose
  last = (await operator.delete('/config/checkout/dark-mode')).revision;
  await Promise.all(views.map((v) => v.waitForRevision(last, { timeoutMs: 5_000 })));
  for (const [i, view] of views.entries()) {
    const flag = view.get('new-ui');
    say(`service-${i + 1}`, `final view: new-ui ${JSON.stringify(flag)}`);
    if (flag?.rolloutPercent !== 100) throw new Error('view did not converge');
    view.close();
  }
} finally {
  await cluster.close();
}
