// Proves the service registry on a single in-process member: register/discover, a watch of
// snapshots that reflects every registration and removal, a crashed instance (lease gone)
// disappearing, re-registration after a lost session, and deregister.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRegistry } from '../../src/index.ts';
import type { QuorumNode, ServiceInstance } from '../../src/index.ts';
import { eventually, startSingle, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

interface Meta {
  readonly url: string;
}

test('register, discover, watch snapshots, deregister', async () => {
  const registry = createRegistry<Meta>(node, '/svc/');
  const controller = new AbortController();
  const snapshots: string[][] = [];
  const watching = (async () => {
    for await (const list of registry.watch('api', { signal: controller.signal })) snapshots.push(list.map((i: ServiceInstance<Meta>) => i.instance));
  })();
  const a = await registry.register('api', 'a', { url: 'http://a' }, { ttlMs: 1_000 });
  const b = await registry.register('api', 'b', { url: 'http://b' }, { ttlMs: 1_000 });
  const found = await registry.discover('api');
  assert.equal(found.map((i) => [i.instance, i.meta.url]), [['a', 'http://a'], ['b', 'http://b']]);
  assert.is(found[0]?.leaseId, a.session.leaseId);
  await a.update({ url: 'http://a2' });
  assert.is((await registry.discover('api'))[0]?.meta.url, 'http://a2');
  await a.deregister();
  await eventually(() => JSON.stringify(snapshots.at(-1)) === JSON.stringify(['b']), 2_000, 'watch sees a gone');
  controller.abort();
  await withTimeout(watching, 2_000, 'watch ends');
  assert.equal(snapshots[0], []);
  assert.ok(snapshots.some((s) => s.length === 2));
  await b.deregister();
  assert.equal(await registry.discover('api'), []);
});

test('a lost session re-registers with a new lease', async () => {
  const registry = createRegistry<Meta>(node, '/svc/');
  const reg = await registry.register('jobs', 'w1', { url: 'http://w1' }, { ttlMs: 1_000 });
  const oldLease = reg.session.leaseId;
  const registered = new Promise<number>((r) => reg.once('registered', r));
  await node.revokeLease(oldLease); // the instance's lease expires (e.g. a long pause)
  const newLease = await withTimeout(registered, 3_000, 're-registered');
  assert.not.equal(newLease, oldLease);
  const found = await registry.discover('jobs');
  assert.equal(found.map((i) => i.leaseId), [newLease]);
  await reg.deregister();
  assert.equal(await registry.discover('jobs'), []);
});

test('keepRegistered: false lets a crashed instance disappear', async () => {
  const registry = createRegistry<Meta>(node, '/svc/');
  const reg = await registry.register('cache', 'c1', { url: 'http://c1' }, { ttlMs: 1_000, keepRegistered: false });
  await node.revokeLease(reg.session.leaseId);
  assert.equal(await registry.discover('cache'), []);
  await reg.deregister();
});

test.run();
