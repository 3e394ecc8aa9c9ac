// Proves the Config recipe on a single in-process member: the initial snapshot, typed parsing
// (invalid values left out), change events and iterators in revision order, and — the point of
// reading at R then watching from R + 1 — no update missed while a writer writes continuously
// during createConfig(): the final view equals the store and each key's changes are contiguous.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConfig } from '../../src/index.ts';
import type { ConfigChange, QuorumNode } from '../../src/index.ts';
import { eventually, startSingle, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

test('snapshot, parse, changes', async () => {
  await node.put('/cfg/app/db', { host: 'db1', port: 5432 });
  await node.put('/cfg/app/bad', 'not an object');
  interface Db {
    host: string;
    port: number;
  }
  const invalid: string[] = [];
  const config = await createConfig<Db>(node, '/cfg/app', {
    parse: (v) => {
      if (typeof v !== 'object' || v === null) throw new TypeError('not an object');
      return v as Db;
    },
  });
  config.on('invalid', ({ name }) => invalid.push(name));
  assert.equal(config.get('db'), { host: 'db1', port: 5432 });
  assert.ok(!config.has('bad'));
  const changes: ConfigChange<Db>[] = [];
  const controller = new AbortController();
  const iterating = (async () => {
    for await (const c of config.changes({ signal: controller.signal })) changes.push(c);
  })();
  const rev = await config.set('db', { host: 'db2', port: 5432 });
  await config.waitForRevision(rev, { timeoutMs: 2_000 });
  assert.is(config.get('db')?.host, 'db2');
  await node.put('/cfg/app/bad2', 7);
  await config.delete('db');
  await eventually(() => !config.has('db'), 2_000, 'delete seen');
  controller.abort();
  await withTimeout(iterating, 2_000, 'iterator ends');
  assert.equal(changes.map((c) => [c.type, c.name]), [['set', 'db'], ['delete', 'db']]);
  assert.equal(changes[0]?.prevValue, { host: 'db1', port: 5432 });
  assert.equal(invalid, ['bad2']);
  config.close();
});

test('no missed update between the read and the watch', async () => {
  let stop = false;
  let written = 0;
  const writer = (async () => {
    while (!stop) {
      written++;
      await node.put(`/cfg/race/k${written % 3}`, written);
      // memoryStorage resolves saves in microtasks: yield so timers can run.
      await new Promise((r) => setImmediate(r));
    }
  })();
  const seen: ConfigChange<number>[] = [];
  const config = await createConfig<number>(node, '/cfg/race');
  config.on('change', (c) => seen.push(c));
  const startRevision = config.revision;
  const initialMax = Math.max(0, ...[...config.snapshot().values()]);
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await writer;
  const store = await node.range({ prefix: '/cfg/race/' });
  await config.waitForRevision(store.revision, { timeoutMs: 2_000 });
  for (const kv of store.kvs) assert.is(config.get(kv.key.slice('/cfg/race/'.length)), kv.value);
  // Every write after the initial read is seen, in order, exactly once.
  const history = seen.filter((c) => c.revision > startRevision).map((c) => c.value as number);
  const expected = history.length === 0 ? [] : Array.from({ length: history.length }, (_, i) => (history[0] as number) + i);
  assert.equal(history, expected);
  assert.is(history.at(-1), written);
  assert.is(history[0], initialMax + 1, 'the first change after the read follows the snapshot');
  config.close();
});

test.run();
