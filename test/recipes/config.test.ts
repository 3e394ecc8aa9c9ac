// Proves the Config recipe on a single in-process member: the initial snapshot, typed parsing
// (invalid values left out), change events and iterators in revision order, and — the point of
// reading at R then watching from R + 1 — no update missed while a writer writes continuously
// during createConfig(): the final view equals the store and each key's changes are contiguous.
// A cancelled watch whose resync read first fails with NoLeaderError (a failover) is retried, not
// left dead (a proxy node injects both); waitForRevision with an aborted signal rejects at once,
// and one pending when the view closes rejects with StoppedError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortedError, CompactedError, NoLeaderError, StoppedError } from '../../src/errors.ts';
import { createConfig } from '../../src/index.ts';
import type { ConfigChange, QuorumNode, Watch } from '../../src/index.ts';
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

test('a resync that first meets no leader is retried, and the view catches up', async () => {
  const watches: Watch<unknown>[] = [];
  let failReads = 0;
  const flaky = new Proxy(node, {
    get(target, prop, receiver) {
      if (prop === 'watch') {
        return (range: unknown, options?: unknown) => {
          const w = (target.watch as (r: unknown, o?: unknown) => Watch<unknown>).call(target, range, options);
          watches.push(w);
          return w;
        };
      }
      if (prop === 'range') {
        return async (range: unknown, options?: unknown) => {
          if (failReads > 0) {
            failReads--;
            throw new NoLeaderError();
          }
          return (target.range as (r: unknown, o?: unknown) => Promise<unknown>).call(target, range, options);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  await node.put('/cfg/flaky/a', 1);
  const config = await createConfig<number>(flaky, '/cfg/flaky');
  const errors: unknown[] = [];
  config.on('error', (e) => errors.push(e));
  let resynced = false;
  config.on('resync', () => (resynced = true));
  // The watch is cancelled as compacted; the first two re-reads find no leader.
  failReads = 2;
  const first = watches[0] as Watch<unknown>;
  first.emit('error', new CompactedError(1, 2));
  first.close();
  await node.put('/cfg/flaky/b', 2);
  await eventually(() => resynced, 3_000, 'resync after the failover');
  assert.equal(errors, []);
  assert.is(config.get('b'), 2, 'a write made during the outage is in the view');
  const rev = (await node.put('/cfg/flaky/c', 3)).revision;
  await withTimeout(config.waitForRevision(rev), 2_000, 'the new watch follows');
  assert.is(config.get('c'), 3);
  config.close();
});

test('waitForRevision with an already-aborted signal rejects at once', async () => {
  const config = await createConfig(node, '/cfg/aborted');
  const controller = new AbortController();
  controller.abort();
  try {
    await withTimeout(config.waitForRevision(config.revision + 1_000, { signal: controller.signal }), 1_000, 'waitForRevision');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, AbortedError);
  }
  config.close();
});

test('close() rejects a pending waitForRevision instead of leaving it hanging', async () => {
  const config = await createConfig(node, '/cfg/closing');
  const waiting = config.waitForRevision(config.revision + 1_000);
  config.close();
  try {
    await withTimeout(waiting, 1_000, 'waitForRevision');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StoppedError);
  }
});

test.run();
