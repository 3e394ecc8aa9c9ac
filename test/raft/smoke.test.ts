// Proves the basic life of a cluster of RawNodes: a 3-member cluster elects one leader,
// replicates and commits proposals on every member, in order. Uses the in-memory harness.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './harness.ts';

test('3 members elect a leader and commit proposals everywhere', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const l = c.waitLeader();
  assert.is(c.leaders().length, 1);
  for (let i = 0; i < 10; i++) c.propose(l, `x${i}`);
  c.run(3);
  for (const n of c.nodes.values()) {
    assert.equal(n.state, ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9'], n.id);
  }
});

test('single member commits after campaign()', () => {
  const c = new Cluster(['a']);
  c.elect('a');
  assert.is(c.raw('a').status().role, 'leader');
  c.propose('a', 'hello');
  assert.equal(c.node('a').state, ['hello']);
});

test('followers forward proposals to the leader', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('b', 'via-b');
  for (const n of c.nodes.values()) assert.equal(n.state, ['via-b'], n.id);
});

test.run();
