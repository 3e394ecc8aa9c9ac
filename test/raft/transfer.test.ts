// Proves leadership transfer (thesis §3.10): the leader brings the target up to date, sends
// timeoutNow, and the target wins at once (bypassing pre-vote and leader stickiness); the
// leader refuses proposals while transferring and aborts after an election timeout when the
// target does not take over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, enc } from './harness.ts';
import { ProposalDroppedError } from '../../src/errors.ts';

test('transfer to an up-to-date follower: it becomes leader in the next term', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  const term = c.raw('a').status().term;
  c.raw('a').transferLeadership('b');
  c.stabilize();
  assert.is(c.raw('b').status().role, 'leader');
  assert.is(c.raw('b').status().term, term + 1);
  assert.is(c.raw('a').status().leader, 'b');
  assert.ok(c.delivered.some((m) => m.type === 'timeoutNow' && m.to === 'b'));
});

test('transfer to a lagging follower waits until it has caught up', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.down.add('c');
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.raw('a').transferLeadership('c');
  c.stabilize();
  assert.is(c.raw('a').status().leadTransferee, 'c');
  assert.not.ok(c.delivered.some((m) => m.type === 'timeoutNow'));
  c.down.delete('c');
  c.run(3);
  assert.is(c.raw('c').status().role, 'leader');
  assert.equal(c.node('c').state, ['v0', 'v1', 'v2', 'v3', 'v4']);
});

test('proposals are refused during a transfer, and the transfer aborts after an election timeout', () => {
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: 10 });
  c.elect('a');
  c.down.add('b');
  c.raw('a').transferLeadership('b');
  assert.throws(() => c.raw('a').propose(enc.encode('no')), (e: unknown) => e instanceof ProposalDroppedError);
  for (let i = 0; i < 10; i++) {
    c.tick(['a', 'c']);
    c.stabilize();
  }
  assert.is(c.raw('a').status().leadTransferee, '');
  assert.is(c.raw('a').status().role, 'leader');
  c.raw('a').propose(enc.encode('yes'));
  c.stabilize();
  assert.ok(c.node('c').state.includes('yes'));
});

test('transfer to a non-voter or to self is ignored', () => {
  const c = new Cluster(['a', 'b'], { learners: ['l'] });
  c.elect('a');
  c.raw('a').transferLeadership('l');
  c.raw('a').transferLeadership('a');
  c.raw('a').transferLeadership('zz');
  assert.is(c.raw('a').status().leadTransferee, '');
});

test.run();
