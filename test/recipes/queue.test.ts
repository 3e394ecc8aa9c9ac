// Proves the Queue recipe on a single in-process member: FIFO order, priority order (lower first,
// FIFO within a priority), a dequeue that blocks on a watch until an item arrives, typed
// timeout/abort, and concurrent consumers each claiming distinct items (exactly once).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortedError, InvalidArgumentError, TimeoutError } from '../../src/errors.ts';
import { createQueue } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';
import { sleep, startSingle, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

test('FIFO order', async () => {
  const q = createQueue<number>(node, '/q/fifo');
  for (let i = 0; i < 5; i++) await q.enqueue(i);
  assert.is(await q.size(), 5);
  const out: number[] = [];
  for (let i = 0; i < 5; i++) out.push((await q.dequeue()).value);
  assert.equal(out, [0, 1, 2, 3, 4]);
  assert.is(await q.tryDequeue(), undefined);
});

test('priorities: lower first, FIFO within a priority', async () => {
  const q = createQueue<string>(node, '/q/prio');
  await q.enqueue('low-1', { priority: 9 });
  await q.enqueue('high-1', { priority: 1 });
  await q.enqueue('low-2', { priority: 9 });
  await q.enqueue('high-2', { priority: 1 });
  await q.enqueue('mid', { priority: 5 });
  const out: string[] = [];
  for (let i = 0; i < 5; i++) out.push((await q.dequeue()).value);
  assert.equal(out, ['high-1', 'high-2', 'mid', 'low-1', 'low-2']);
  try {
    await q.enqueue('bad', { priority: -1 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
  }
});

test('dequeue blocks until an item arrives; timeout and abort are typed', async () => {
  const q = createQueue<string>(node, '/q/block');
  const pending = q.dequeue({ timeoutMs: 3_000 });
  await sleep(100);
  await q.enqueue('late');
  assert.is((await withTimeout(pending, 2_000, 'blocked dequeue')).value, 'late');
  try {
    await q.dequeue({ timeoutMs: 100 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, TimeoutError);
  }
  const c = new AbortController();
  setTimeout(() => c.abort(), 50);
  try {
    await q.dequeue({ signal: c.signal });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, AbortedError);
  }
});

test('concurrent consumers: every item claimed exactly once', async () => {
  const q = createQueue<number>(node, '/q/many');
  const total = 60;
  const consumed: number[] = [];
  const controller = new AbortController();
  const consumers = Array.from({ length: 4 }, async () => {
    for (;;) {
      try {
        consumed.push((await q.dequeue({ signal: controller.signal })).value);
      } catch {
        return;
      }
    }
  });
  await Promise.all(Array.from({ length: 3 }, async (_, p) => {
    for (let i = p; i < total; i += 3) await q.enqueue(i);
  }));
  const deadline = Date.now() + 5_000;
  while (consumed.length < total && Date.now() < deadline) await sleep(20);
  controller.abort();
  await Promise.all(consumers);
  assert.is(consumed.length, total);
  assert.equal([...consumed].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i));
});

test.run();
