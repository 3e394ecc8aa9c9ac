// Proves log compaction and snapshots (§7): a follower whose needed entries are compacted on
// the leader receives a `snapshot` message, hands it out in Ready.snapshot, and catches up; a
// member restarts from its snapshot plus the log after it (config.applied); snapshot state
// pauses appends until the driver reports the outcome.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './harness.ts';

function fill(c: Cluster, leader: string, from: number, n: number): string[] {
  const out: string[] = [];
  for (let i = from; i < from + n; i++) {
    c.raw(leader).propose(new TextEncoder().encode(`v${i}`));
    out.push(`v${i}`);
  }
  c.stabilize();
  return out;
}

test('a follower behind the compaction point catches up through a snapshot', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.down.add('c');
  const written = fill(c, 'a', 0, 30);
  c.node('a').compact();
  c.node('b').compact();
  const written2 = fill(c, 'a', 30, 5);
  c.down.delete('c');
  c.run(3);
  assert.ok(c.delivered.some((m) => m.type === 'snapshot' && m.to === 'c'), 'a snapshot was sent');
  assert.ok(c.node('c').readies.some((rd) => rd.snapshot !== undefined), 'Ready.snapshot on the follower');
  assert.equal(c.node('c').state, [...written, ...written2]);
  assert.is(c.raw('c').status().commit, c.raw('a').status().commit);
  assert.is(c.raw('a').status().progress?.['c']?.state, 'replicate');
});

test('restart from snapshot + log: state, membership and commit come back', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const w1 = fill(c, 'a', 0, 10);
  for (const id of ['a', 'b', 'c']) c.node(id).compact();
  const w2 = fill(c, 'a', 10, 5);
  c.run(2);
  c.node('b').restart();
  c.stabilize();
  assert.equal(c.node('b').state, [...w1, ...w2], 'snapshot state + replayed log');
  assert.equal(c.raw('b').status().confState.voters, ['a', 'b', 'c']);
  c.node('a').restart();
  c.run(40);
  const l = c.waitLeader();
  fill(c, l, 15, 1);
  c.run(2);
  for (const n of c.nodes.values()) assert.equal(n.state, [...w1, ...w2, 'v15'], n.id);
});

test('snapshot state pauses appends until reportSnapshot; a failed send probes again', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.down.add('c');
  fill(c, 'a', 0, 5);
  c.node('a').compact();
  c.down.delete('c');
  // Drop the snapshot message; the harness reports it failed.
  let dropped = 0;
  c.filter = (m) => !(m.type === 'snapshot' && dropped++ === 0);
  c.run(4);
  assert.is(dropped >= 2, true, 'a second snapshot was sent after the failure report');
  assert.equal(c.node('c').state, ['v0', 'v1', 'v2', 'v3', 'v4']);
});

test.run();
