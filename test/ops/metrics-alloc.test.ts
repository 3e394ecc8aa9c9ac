// Proves that what the hot path calls to count things allocates nothing: the storage's WAL-sync
// observer, the transport's peer-traffic observer and a histogram's observe(), called 500,000
// times each, neither grow the heap nor trigger a GC — checked against a control loop that
// allocates one small (discarded) object per call, which the same measurement must see, so a
// zero here is not a blind measurement.
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DISK_BUCKETS_SECONDS, Histogram, NodeMetrics } from '../../src/node/metrics.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CALLS = 500_000;
/** Below one byte per call: an allocation per call would be ≥ 16 bytes each (8 MB here). */
const MAX_GROWTH_BYTES = CALLS;

/** Heap bytes `body` leaves allocated and the GCs it caused, GC'd before and not during. */
async function measure(body: () => void): Promise<{ growth: number; gcs: number }> {
  for (let i = 0; i < 5; i++) body(); // warm up: compile, create per-peer counters once
  gc();
  await new Promise((r) => setImmediate(r));
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage().heapUsed;
  body();
  const growth = process.memoryUsage().heapUsed - before;
  await new Promise((r) => setTimeout(r, 20)); // gc entries are delivered asynchronously
  observer.disconnect();
  return { growth, gcs };
}

let sink: unknown;

test('the control allocation is visible to the measurement', async () => {
  const { growth, gcs } = await measure(() => {
    for (let i = 0; i < CALLS; i++) sink = { n: i };
  });
  assert.ok(growth > MAX_GROWTH_BYTES || gcs > 0, `control: grew ${growth} bytes, ${gcs} GCs`);
  assert.ok(sink !== undefined);
});

test('the observers and histograms allocate nothing per call', async () => {
  const metrics = new NodeMetrics();
  const h = new Histogram(DISK_BUCKETS_SECONDS);
  const { growth, gcs } = await measure(() => {
    for (let i = 0; i < CALLS; i++) {
      metrics.onWalSync(0.0005 * (i % 40));
      metrics.peerTraffic.sent('n2', 120);
      metrics.peerTraffic.received('n3', 80);
      metrics.peerTraffic.roundTrip('n2', 0.0003);
      h.observe(i % 9);
      metrics.leaderChangesSeen += 0;
    }
  });
  assert.is(gcs, 0, `no GC while counting (grew ${growth} bytes)`);
  assert.ok(growth < MAX_GROWTH_BYTES, `grew ${growth} bytes over ${CALLS} rounds`);
  assert.is(h.snapshot().count, 6 * CALLS);
  const snap = metrics.snapshot({
    id: 'n1', leader: 'n1', role: 'leader', learner: false, term: 1, commitIndex: 0, appliedIndex: 0, proposalsPending: 0,
    dbSizeBytes: 0, keys: 0, leases: 0, watches: 0, watchBufferedEvents: 0, learnerLag: {},
  });
  metrics.close();
  assert.is(snap.peers['n2']?.sentBytes, 6 * CALLS * 120);
  assert.is(snap.peers['n3']?.receivedBytes, 6 * CALLS * 80);
  assert.is(snap.walFsync.count, 6 * CALLS);
  assert.is(snap.peers['n2']?.roundTrip.buckets.at(-1)?.le, Number.POSITIVE_INFINITY);
});

test.run();
