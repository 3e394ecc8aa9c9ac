// Proves `createNode({ metrics: { registry } })` with a real prom-client Registry: the member's
// families appear in the app's own registry output (beside the app's metrics) with live values,
// read from one snapshot per scrape, work with an OpenMetrics registry (counter naming), are
// removed when the member closes, a second member in the same registry is refused (and
// leaves nothing behind), and bad `metrics` options are RangeErrors naming the problem.
import { Counter, Registry } from 'prom-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { quietLogger } from '../node/helpers/cluster.ts';
import { parsePrometheusText, valueOf } from './prom-parse.ts';

test('the member registers into the app registry, live, and leaves it on close', async () => {
  const registry = new Registry();
  const appCounter = new Counter({ name: 'app_requests_total', help: 'App requests.', registers: [registry] });
  appCounter.inc(3);
  const node = await createNode({ id: 'p1', storage: memoryStorage(), logger: quietLogger, metrics: { registry } });
  try {
    await node.ready();
    await node.put('/a', 1);
    await node.put('/b', 2);
    // prom-client separates families with a blank line.
    const text = (await registry.metrics()).split('\n').filter((line) => line !== '');
    const families = parsePrometheusText(`${text.join('\n')}\n`);
    assert.is(valueOf(families, 'app_requests_total'), 3);
    assert.is(valueOf(families, 'etcd_server_has_leader'), 1);
    assert.is(valueOf(families, 'etcd_debugging_mvcc_keys_total'), 2);
    assert.ok(valueOf(families, 'etcd_server_proposals_applied_total') >= 2);
    assert.is(families.get('etcd_disk_wal_fsync_duration_seconds')?.type, 'histogram');
    const json = await registry.getMetricsAsJSON();
    assert.ok(json.some((m) => m.name === 'etcd_server_leader_changes_seen_total'));
    registry.resetMetrics(); // must not throw on our families
  } finally {
    await node.close();
  }
  assert.equal(
    registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name),
    ['app_requests_total'],
  );
});

test('an OpenMetrics registry names counters its way, once per scrape snapshot', async () => {
  const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const node = await createNode({ id: 'p4', storage: memoryStorage(), logger: quietLogger, metrics: { registry } });
  try {
    await node.ready();
    let reads = 0;
    const metrics = node.metrics.bind(node);
    node.metrics = () => {
      reads += 1;
      return metrics();
    };
    const text = await registry.metrics();
    assert.is(reads, 1, 'one snapshot serves every family of a scrape');
    await registry.metrics();
    assert.is(reads, 2, 'and the next scrape takes a fresh one');
    assert.match(text, /\netcd_server_leader_changes_seen_total 1\n/);
    assert.not.match(text, /_total_total/);
    assert.match(text, /\netcd_disk_wal_fsync_duration_seconds_count 0\n/);
    assert.match(text, /# EOF\n$/);
  } finally {
    await node.close();
  }
});

test('a second member in the same registry is refused and closed, the first keeps its metrics', async () => {
  const registry = new Registry();
  const first = await createNode({ id: 'p1', storage: memoryStorage(), logger: quietLogger, metrics: { registry } });
  try {
    const count = registry.getMetricsAsArray().length;
    let error: unknown;
    await createNode({ id: 'p2', storage: memoryStorage(), logger: quietLogger, metrics: { registry } }).catch((err: unknown) => (error = err));
    assert.instance(error, Error);
    assert.match(String(error), /already been registered/);
    assert.is(registry.getMetricsAsArray().length, count);
    await first.ready();
    assert.match(await registry.metrics(), /etcd_server_has_leader 1/);
  } finally {
    await first.close();
  }
});

test('bad metrics options are RangeErrors naming the problem', async () => {
  const base = { id: 'p3', storage: memoryStorage(), logger: quietLogger };
  const cases: [unknown, RegExp][] = [
    [{}, /metrics\.registry must be a prom-client Registry/],
    [{ registry: new Registry(), regsitry: 1 }, /unknown metrics option "regsitry"/],
    [{ registry: { registerMetric() {} } }, /metrics\.registry must be/],
    ['yes', /metrics must be an object/],
  ];
  for (const [metrics, message] of cases) {
    let error: unknown;
    await createNode({ ...base, metrics } as never).catch((err: unknown) => (error = err));
    assert.instance(error, RangeError, String(metrics));
    assert.match(String(error), message);
  }
});

test.run();
