// Proves the Election recipe on a single in-process member: campaign resolves only when elected,
// leadership passes in campaign order on resign, proclaim/resign are guarded by the leader key's
// create revision (a deposed leader cannot overwrite or delete), observe() reports every leader
// change — even a leader that takes over and resigns while the observer is slow to re-read (a proxy
// delays its reads) — and a campaigner resumes its place after a restart with the same session.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortedError, InvalidArgumentError, LockLostError, TimeoutError } from '../../src/errors.ts';
import { cmp, createElection, createSession, op } from '../../src/index.ts';
import type { ElectionLeader, QuorumNode } from '../../src/index.ts';
import { eventually, sleep, startSingle, withSlowGrant, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

test('campaign, leader(), proclaim, resign hands over in order', async () => {
  const a = createElection<string>(node, '/elections/e1', { ttlMs: 1_000 });
  const b = createElection<string>(node, '/elections/e1', { ttlMs: 1_000 });
  await a.campaign('host-a');
  assert.ok(a.isLeader);
  assert.is((await a.leader())?.value, 'host-a');
  let bElected = false;
  const bCampaign = b.campaign('host-b').then(() => (bElected = true));
  await sleep(50);
  assert.ok(!bElected, 'second campaigner waits');
  await a.proclaim('host-a2');
  assert.is((await b.leader())?.value, 'host-a2');
  await a.resign();
  await withTimeout(bCampaign, 2_000, 'b elected');
  assert.ok(b.isLeader);
  assert.ok(!a.isLeader);
  assert.is((await a.leader())?.value, 'host-b');
  // Fenced write by the leader.
  const res = await node.txn().if(cmp.owns(b)).then(op.put('/elections/e1-owner', 'host-b')).commit();
  assert.ok(res.succeeded);
  await b.resign();
  assert.is(await a.leader(), undefined);
});

test('a deposed leader can neither proclaim nor resign a newer leader away', async () => {
  const a = createElection<string>(node, '/elections/e2', { ttlMs: 1_000 });
  await a.campaign('a');
  const lost = new Promise<LockLostError>((r) => a.once('lost', r));
  const aSession = a.session;
  assert.ok(aSession);
  await node.revokeLease(aSession.leaseId);
  await withTimeout(lost, 2_000, 'lost');
  assert.ok(!a.isLeader);
  const b = createElection<string>(node, '/elections/e2', { ttlMs: 1_000 });
  await withTimeout(b.campaign('b'), 2_000, 'b elected');
  try {
    await a.proclaim('a-again');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, LockLostError);
  }
  await a.resign();
  assert.is((await b.leader())?.value, 'b');
  await b.resign();
});

test('observe() yields every leader change in order', async () => {
  const watcher = createElection<string>(node, '/elections/e3');
  const controller = new AbortController();
  const seen: string[] = [];
  const observing = (async () => {
    for await (const l of watcher.observe({ signal: controller.signal })) seen.push((l as ElectionLeader<string>).value);
  })();
  const a = createElection<string>(node, '/elections/e3', { ttlMs: 1_000 });
  const b = createElection<string>(node, '/elections/e3', { ttlMs: 1_000 });
  await a.campaign('a');
  const bWon = b.campaign('b');
  await sleep(30);
  await a.proclaim('a2');
  await a.resign();
  await bWon;
  await eventually(() => seen.includes('b'), 2_000, 'observer saw b');
  controller.abort();
  await withTimeout(observing, 2_000, 'observe ends on abort');
  assert.equal(seen, ['a', 'a2', 'b']);
  await b.resign();
});

test('resume after restart with the same lease keeps the place in line', async () => {
  const leader = createElection<string>(node, '/elections/e4', { ttlMs: 1_000 });
  await leader.campaign('leader');
  const before = await createSession(node, { ttlMs: 1_000 });
  const waiting = createElection<string>(node, '/elections/e4', { session: before });
  void waiting.campaign('v1').catch(() => undefined);
  await eventually(async () => (await node.range({ prefix: '/elections/e4/' }, { countOnly: true })).count === 2, 2_000, 'queued');
  const placeBefore = (await node.range({ prefix: '/elections/e4/' }, { sort: { by: 'createRevision', order: 'desc' }, limit: 1 })).kvs[0];
  // "Restart": a new process resumes the lease by id and campaigns again with a new value.
  const after = await createSession(node, { ttlMs: 1_000, leaseId: before.leaseId });
  const resumed = createElection<string>(node, '/elections/e4', { session: after });
  const won = resumed.campaign('v2');
  await sleep(50);
  assert.ok(!resumed.isLeader, 'still behind the leader');
  await leader.resign();
  await withTimeout(won, 2_000, 'resumed campaigner elected');
  assert.is(resumed.createRevision, placeBefore?.createRevision, 'same place in line');
  assert.is((await resumed.leader())?.value, 'v2');
  await resumed.resign();
  await after.close();
});

test('observe() reports a leader that comes and goes while the observer is between reads', async () => {
  // The observer's reads after the first are delayed: by the time it re-reads after A's key is
  // deleted, B has been elected and has resigned. It must still report A, B, C in that order.
  let reads = 0;
  const slow = new Proxy(node, {
    get(target, prop, receiver) {
      if (prop === 'range') {
        return async (range: unknown, options?: unknown) => {
          if (reads++ > 0) await sleep(300);
          return (target.range as (r: unknown, o?: unknown) => Promise<unknown>).call(target, range, options);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const a = createElection<string>(node, '/elections/gap', { ttlMs: 1_000 });
  const b = createElection<string>(node, '/elections/gap', { ttlMs: 1_000 });
  const c = createElection<string>(node, '/elections/gap', { ttlMs: 1_000 });
  await a.campaign('a');
  const bElected = b.campaign('b');
  await sleep(20);
  const cElected = c.campaign('c');
  await sleep(20);
  const stop = new AbortController();
  const seen: string[] = [];
  const observer = (async () => {
    for await (const l of createElection<string>(slow, '/elections/gap').observe({ signal: stop.signal })) {
      seen.push(l.value);
      if (l.value === 'c') stop.abort();
    }
  })();
  await eventually(() => seen.length === 1, 2_000, 'observer saw a');
  await a.resign();
  await withTimeout(bElected, 2_000, 'b elected');
  await b.resign();
  await withTimeout(cElected, 2_000, 'c elected');
  await withTimeout(observer, 3_000, 'observer reaches c');
  assert.equal(seen, ['a', 'b', 'c']);
  await c.resign();
});

test('a second campaign() on the same handle while the first starts is refused (one key per campaigner)', async () => {
  const e = createElection<string>(node, '/elections/twice', { ttlMs: 1_000 });
  const first = e.campaign('one');
  try {
    await e.campaign('two');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
  }
  await withTimeout(first, 2_000, 'first campaign');
  const line = await node.range({ prefix: '/elections/twice/' }, { keysOnly: true });
  assert.is(line.kvs.length, 1, 'exactly one key in the line');
  await e.resign();
  assert.is((await node.range({ prefix: '/elections/twice/' }, { countOnly: true })).count, 0);
});

test('resign() while campaign() is still creating its session cancels the campaign', async () => {
  const e = createElection<string>(node, '/elections/early-resign', { ttlMs: 1_000 });
  const campaigning = e.campaign('x');
  await e.resign();
  try {
    await withTimeout(campaigning, 2_000, 'campaign');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, AbortedError);
  }
  assert.ok(!e.isLeader);
  assert.is((await node.range({ prefix: '/elections/early-resign/' }, { countOnly: true })).count, 0);
});

test('timeoutMs bounds the whole campaign, the session grant included', async () => {
  const slowGrant = withSlowGrant(node, 400);
  const e = createElection<string>(slowGrant, '/elections/slow-grant', { ttlMs: 1_000 });
  const startedAt = Date.now();
  try {
    await e.campaign('x', { timeoutMs: 100 });
    assert.unreachable('elected after its timeout');
  } catch (err) {
    assert.instance(err, TimeoutError);
  }
  assert.ok(Date.now() - startedAt < 350, `rejected after ${Date.now() - startedAt} ms`);
  assert.ok(!e.isLeader);
  // The handle is usable again after the failed campaign.
  await withTimeout(createElection<string>(node, '/elections/slow-grant', { ttlMs: 1_000 }).campaign('y').then(() => undefined), 2_000, 'another campaign');
  assert.is((await e.leader())?.value, 'y');
});

test.run();
