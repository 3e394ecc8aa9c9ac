// Proves the diagnostics_channel tracing: a subscriber to `quorumkv:put`, `:range`, `:txn`,
// `:delete`, `:propose` and `:apply` sees each call start and finish with its context (member,
// key, sizes, applied index range), errors are published on the error channel (bad arguments
// still reject rather than throw), and without
// subscribers nothing is published (hasSubscribers is false).
import { tracingChannel } from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNode } from '../../src/create-node.ts';
import { cmp, op } from '../../src/node/txn-builder.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { quietLogger } from '../node/helpers/cluster.ts';

const NAMES = ['put', 'range', 'txn', 'delete', 'propose', 'apply', 'snapshot'] as const;

interface Seen {
  readonly channel: string;
  readonly phase: string;
  readonly context: Record<string, unknown>;
}

let node: QuorumNode;

test.before(async () => {
  node = await createNode({ id: 't1', storage: memoryStorage(), logger: quietLogger, snapshotEvery: 3 });
  await node.ready();
});

test.after(async () => {
  await node.close();
});

test('no channel has a subscriber by default', () => {
  for (const name of NAMES) assert.is(tracingChannel(`quorumkv:${name}`).hasSubscribers, false, name);
});

test('a subscriber sees put, range, txn, delete, propose, apply and snapshot with their contexts', async () => {
  const seen: Seen[] = [];
  const handlers = NAMES.map((name) => {
    const channel = tracingChannel<unknown, Record<string, unknown>>(`quorumkv:${name}`);
    const on = (phase: string) => (message: unknown) => seen.push({ channel: name, phase, context: message as Record<string, unknown> });
    const subscribers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') };
    channel.subscribe(subscribers);
    return () => channel.unsubscribe(subscribers);
  });
  try {
    await node.put('/t/a', 'v');
    await node.get('/t/a');
    await node.range({ prefix: '/t/' });
    await node.txn().if(cmp.value('/t/a', '==', 'v')).then(op.put('/t/b', 1)).commit();
    await node.delete('/t/b');
    await node.put('/t/exists', 1, { expect: 'absent' });
    await node.put('/t/exists', 2, { expect: 'absent' }).catch(() => {});
    for (let i = 0; i < 4; i++) await node.put(`/t/s${i}`, i);
    const deadline = Date.now() + 3_000;
    while (!seen.some((s) => s.channel === 'snapshot' && s.phase === 'asyncEnd') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    for (const off of handlers) off();
  }
  const finished = (channel: string) => seen.filter((s) => s.channel === channel && s.phase === 'asyncEnd');
  const put = finished('put').find((s) => s.context['key'] === '/t/a');
  assert.ok(put !== undefined, 'put finished');
  assert.is(put.context['member'], 't1');
  assert.ok(typeof (put.context['result'] as { revision?: number }).revision === 'number', 'the result rides on the context');
  assert.ok(finished('range').some((s) => s.context['key'] === '/t/a'), 'get is traced as range');
  assert.ok(finished('range').some((s) => s.context['key'] === '/t/' && s.context['prefix'] === true), 'a prefix range');
  assert.is(finished('txn').length, 1);
  assert.is(finished('delete').length, 1);
  assert.ok(finished('propose').length >= 5, 'every write is proposed');
  assert.ok((finished('propose')[0]!.context['bytes'] as number) > 0);
  const applies = seen.filter((s) => s.channel === 'apply' && s.phase === 'end');
  assert.ok(applies.length >= 1, 'apply is traced');
  for (const a of applies) assert.ok((a.context['lastIndex'] as number) >= (a.context['firstIndex'] as number));
  const failed = seen.find((s) => s.channel === 'put' && s.phase === 'error');
  assert.ok(failed !== undefined, 'a failed put reaches the error channel');
  assert.is((failed.context['error'] as { code?: string }).code, 'KEY_EXISTS');
  assert.ok(seen.some((s) => s.channel === 'snapshot' && s.phase === 'start'), 'a periodic snapshot starts');
  assert.ok(finished('snapshot').length >= 1, 'and finishes');
  for (const name of NAMES) assert.is(tracingChannel(`quorumkv:${name}`).hasSubscribers, false, `${name} unsubscribed`);
});

test('with a subscriber, bad arguments still reject (never throw) and reach the error channel', async () => {
  const errors: unknown[] = [];
  const channel = tracingChannel<unknown, Record<string, unknown>>('quorumkv:range');
  const subscribers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error: (m: unknown) => errors.push((m as { error: unknown }).error) };
  channel.subscribe(subscribers);
  try {
    let threw = false;
    let promise: Promise<unknown> | undefined;
    try {
      promise = node.range(null as never);
    } catch {
      threw = true;
    }
    assert.is(threw, false);
    const err = await promise?.then(() => undefined, (e: unknown) => e);
    assert.is((err as { code?: string }).code, 'INVALID_ARGUMENT');
    assert.is(errors.length, 1);
  } finally {
    channel.unsubscribe(subscribers);
  }
});

test.run();
