// test-runner: solo
// Proves a member with a large store does not stall its host: on a 3-member in-process cluster
// (memory network and storage, default timers) holding 100k keys, snapshot cycles (encode,
// save, log compaction) and a follower catching up by snapshot never hold the shared event loop
// for long — a 5 ms interval measures every gap — and the follower, while it rebuilds the
// leader's snapshot, keeps answering the leader's heartbeats and serving reads from its old store.
import { PerformanceObserver } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { op } from '../../src/node/txn-builder.ts';
import type { PeerMessage } from '../../src/protocol/types.ts';
import { memoryTransport } from '../../src/transport/memory-transport.ts';
import type { Transport } from '../../src/transport/types.ts';
import { createNode } from '../../src/create-node.ts';
import { quietLogger, startCluster, until } from './helpers/cluster.ts';

const KEYS = 200_000;
const key = (i: number): string => `key/${String(i).padStart(27, '0')}`;
/**
 * The longest gap allowed between two firings of a 5 ms interval, GC pauses excluded: a guard
 * against stalls of seconds (a synchronous snapshot or restore of this store). Measured quiet:
 * ≈ 140 ms here, ≈ 340 ms before snapshots were sliced throughout; the bound leaves room for a
 * 2-core CI running another test file beside this one. What tells the two apart reliably is the
 * follower's silence below.
 */
const MAX_GAP_MS = 600;
/** The election timeout: a follower silent for this long could be suspected by its leader. */
const ELECTION_TIMEOUT_MS = 1_000;
/** Default timers (the in-process helpers' short ones would make 200k keys a storm of elections). */
const TIMERS = { heartbeatMs: 100, electionTimeoutMs: ELECTION_TIMEOUT_MS, requestTimeoutMs: 30_000 };

/**
 * Gaps between firings of a 5 ms interval, less the garbage-collector pauses inside them: what
 * this test bounds is the members' own synchronous work. GC pauses grow with the heap (three
 * members of 200k keys share this process) and are measured by `npm run bench:scale` instead.
 */
function gapMeter(): { stop(): { gaps: number[]; gcMs: number } } {
  const gaps: [number, number][] = [];
  const pauses: [number, number][] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push([e.startTime, e.startTime + e.duration]);
  });
  observer.observe({ entryTypes: ['gc'] });
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push([last, now]);
    last = now;
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      observer.disconnect();
      let gcMs = 0;
      for (const [a, b] of pauses) gcMs += b - a;
      const own = gaps.map(([from, to]) => {
        let paused = 0;
        for (const [a, b] of pauses) paused += Math.max(0, Math.min(b, to) - Math.max(a, from));
        if (process.env['QKV_GAP_TRACE'] === '1' && to - from - paused > 100) console.log('gap', Math.round(to - from - paused), 'ms, gc', Math.round(paused), 'ending at hr', Math.round((performance.timeOrigin + to) * 1000));
        return to - from - paused;
      });
      return { gaps: own, gcMs };
    },
  };
}

/** A transport that records when this member receives snapshots and sends heartbeat answers. */
function recording(inner: Transport, seen: { snapshotAt: number[]; heartbeatAnswers: number[] }): Transport {
  return {
    start: (self, handlers) =>
      inner.start(self, {
        ...handlers,
        onMessages(from, messages) {
          if (messages.some((m) => m.type === 'snapshot')) seen.snapshotAt.push(performance.now());
          handlers.onMessages(from, messages);
        },
      }),
    send(to, messages: readonly PeerMessage[]) {
      for (const m of messages) if (m.type === 'heartbeatResponse') seen.heartbeatAnswers.push(performance.now());
      inner.send(to, messages);
    },
    addPeer: (id, address) => inner.addPeer(id, address),
    removePeer: (id) => inner.removePeer(id),
    stop: () => inner.stop(),
  };
}

test('snapshot cycles at 200k keys and a follower catching up by snapshot never stall the loop', async () => {
  // About 7 snapshot cycles during the load (1,563 txns of 128 puts).
  const c = await startCluster(3, { ...TIMERS, snapshotEvery: 200 });
  try {
    const leader = await c.waitLeader(5_000);
    const lagging = [...c.nodes.values()].find((n) => n !== leader)!;
    const laggingId = lagging.id;
    await lagging.close();
    c.nodes.delete(laggingId);
    const value = new Uint8Array(100).fill(7);
    const meter = gapMeter();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < KEYS) {
          const from = next;
          next = Math.min(KEYS, next + 128);
          const ops = [];
          for (let i = from; i < next; i++) ops.push(op.put(key(i), value));
          await leader.txn().then(...ops).commit();
        }
      }),
    );
    await until(() => c.storages.get(leader.id)!.snapshot().meta.index > 400, 10_000, 'a leader snapshot');
    const termBefore = leader.status().term;

    // The lagging member comes back: the leader's log is compacted, so it gets a snapshot.
    const seen = { snapshotAt: [] as number[], heartbeatAnswers: [] as number[] };
    const storage = c.storages.get(laggingId)!.crash();
    c.storages.set(laggingId, storage);
    const back = await createNode({ id: laggingId, peers: c.peers, storage, transport: recording(memoryTransport(c.net), seen), logger: quietLogger, ...TIMERS });
    c.nodes.set(laggingId, back);
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        await back.get(key(1), { consistency: 'serializable' });
        reads++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // The snapshot is installed when the applied index jumps past the log the member had.
    const appliedBefore = back.status().appliedIndex;
    await until(() => back.status().appliedIndex > appliedBefore + 100, 30_000, 'the snapshot to be installed');
    const installedAt = performance.now();
    await until(() => back.status().appliedIndex >= leader.status().commitIndex - 1, 30_000, 'the follower to catch up');
    stop = true;
    await reader;
    const { gaps, gcMs } = meter.stop();
    const worst = Math.max(...gaps);
    // The rebuild starts when the first snapshot arrives.
    const receivedAt = Math.min(...seen.snapshotAt);
    const answers = seen.heartbeatAnswers.filter((t) => t > receivedAt && t < installedAt);
    // The longest time the follower left the leader's heartbeats unanswered while it rebuilt.
    const marks = [receivedAt, ...answers, installedAt];
    let silentMs = 0;
    for (let i = 1; i < marks.length; i++) silentMs = Math.max(silentMs, (marks[i] as number) - (marks[i - 1] as number));
    if (process.env['QKV_TEST_VERBOSE'] === '1') console.log({ gcMs: Math.round(gcMs), top: [...gaps].sort((a, b) => b - a).slice(0, 6).map(Math.round), reads, answers: answers.length, silentMs, rebuildMs: installedAt - receivedAt });
    assert.ok(seen.snapshotAt.length > 0, 'the follower was sent a snapshot');
    assert.ok(worst < MAX_GAP_MS, `the event loop was held ${worst.toFixed(0)} ms (bound ${MAX_GAP_MS} ms)`);
    assert.ok(reads >= 3, `serializable reads on the catching-up follower: ${reads}`);
    // A follower whose loop waited for the rebuild answered nothing until it was done.
    assert.ok(silentMs < ELECTION_TIMEOUT_MS, `the follower left heartbeats unanswered for ${silentMs.toFixed(0)} ms while it rebuilt the snapshot`);
    assert.ok((await back.get(key(KEYS - 1))) !== undefined, 'the follower has the last key');
    assert.is(leader.status().term, termBefore, 'no election');
  } finally {
    await c.closeAll();
  }
});

test.run();
