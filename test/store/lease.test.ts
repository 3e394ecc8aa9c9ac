// Proves lease semantics: keys attach on put and detach on delete, overwrite or ignoreLease; a
// revoke deletes all attached keys at one revision, delivered to a watcher as one response; and
// LeaseExpiry's leader-local deadlines under a fake clock (track, renew, expire, renewAll, forget).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LeaseExpiry, Store } from '../../src/store/index.ts';

const v = (s: string): Uint8Array => new TextEncoder().encode(s);

test('attach, detach, list and timeToLive info', () => {
  const s = new Store();
  s.apply({ type: 'leaseGrant', id: 1, ttlMs: 5000 });
  s.apply({ type: 'leaseGrant', id: 2, ttlMs: 9000 });
  s.apply({ type: 'put', request: { key: 'b', value: v('1'), lease: 1 } });
  s.apply({ type: 'put', request: { key: 'a', value: v('1'), lease: 1 } });
  s.apply({ type: 'put', request: { key: 'c', value: v('1'), lease: 2 } });
  assert.equal(s.lease(1), { id: 1, ttlMs: 5000, keys: ['a', 'b'] });
  s.apply({ type: 'put', request: { key: 'a', value: v('2'), ignoreLease: true } });
  assert.equal(s.range({ key: 'a' }).kvs[0]?.lease, 1);
  s.apply({ type: 'put', request: { key: 'b', value: v('2'), lease: 2 } });
  s.apply({ type: 'delete', request: { range: { key: 'c' } } });
  assert.equal(s.leases(), [
    { id: 1, ttlMs: 5000, keys: ['a'] },
    { id: 2, ttlMs: 9000, keys: ['b'] },
  ]);
  assert.is(s.lease(3), undefined);
});

test('revoke deletes every attached key at one revision, seen as one watch response', () => {
  const s = new Store();
  s.apply({ type: 'leaseGrant', id: 9, ttlMs: 1000 });
  for (let i = 0; i < 50; i++) s.apply({ type: 'put', request: { key: `k${i}`, value: v('x'), lease: 9 } });
  s.apply({ type: 'put', request: { key: 'keep', value: v('x') } });
  const w = s.watch({ prefix: '' }, { onReady: () => {} });
  const before = s.revision;
  const res = s.apply({ type: 'leaseRevoke', id: 9 });
  assert.equal(res, { type: 'leaseRevoke', id: 9, revision: before + 1, deleted: 50 });
  assert.is(s.range({ prefix: '' }).count, 1);
  assert.is(s.lease(9), undefined);
  const r = w.next();
  assert.ok(r?.kind === 'events' && r.events.length === 50 && r.events.every((e) => e.type === 'delete' && e.kv.modRevision === before + 1));
  assert.is(w.next(), undefined);
  // Revoking a lease with no keys does not bump the revision.
  s.apply({ type: 'leaseGrant', id: 10, ttlMs: 1000 });
  assert.equal(s.apply({ type: 'leaseRevoke', id: 10 }), { type: 'leaseRevoke', id: 10, revision: before + 1, deleted: 0 });
});

test('LeaseExpiry with a fake clock', () => {
  let now = 1000;
  const e = new LeaseExpiry(() => now);
  e.track(1, 100);
  e.track(2, 300);
  assert.is(e.remaining(1), 100);
  assert.is(e.remaining(3), -1);
  assert.is(e.renew(3), -1);
  now += 60;
  assert.equal(e.expired(), []);
  assert.is(e.renew(1), 100);
  now += 99;
  assert.equal(e.expired(), []);
  now += 1;
  assert.equal(e.expired(), [1]);
  assert.is(e.remaining(1), 0);
  now += 200;
  assert.equal(e.expired(), [1, 2]);
  e.forget(1);
  e.renewAll();
  assert.equal(e.expired(), []);
  assert.is(e.remaining(2), 300);
  assert.is(e.remaining(1), -1);
});

test.run();
