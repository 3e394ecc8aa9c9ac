// Proves linearizable reads (thesis §6.4): ReadIndex on the leader is released only after a
// heartbeat round acknowledged by a quorum, a new leader serves no read before it commits an
// entry of its term, followers obtain a read index from the leader, reads fail (droppedReads)
// when leadership is lost or there is no leader, and lease reads skip the round only with
// CheckQuorum on (the config refuses leaseReads without it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, MemStorage, mulberry32, dec, enc } from './harness.ts';
import { RawNode } from '../../src/raft/raw-node.ts';

test('readIndex on the leader waits for a quorum heartbeat round, then releases at commit', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  const commit = c.raw('a').status().commit;
  c.down.add('b');
  c.down.add('c');
  c.raw('a').readIndex(enc.encode('r1'));
  c.stabilize();
  assert.equal(c.node('a').readStates, [], 'no quorum answered: not released');
  c.down.delete('b');
  c.raw('a').readIndex(enc.encode('r2'));
  c.stabilize();
  assert.equal(c.node('a').readStates.map((r) => [dec.decode(r.context), r.index]), [['r1', commit], ['r2', commit]]);
});

test('a heartbeat answer from before the request does not release it', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  // Hold every heartbeat answer, then ask for a read: old-round answers must not count.
  const held: import('../../src/protocol/types.ts').Message[] = [];
  c.filter = (m) => {
    if (m.type === 'heartbeatResponse') {
      held.push(m);
      return false;
    }
    return true;
  };
  c.run(2);
  c.filter = undefined;
  c.raw('a').readIndex(enc.encode('r'));
  c.stabilize();
  // The read's heartbeat round went out and was answered: released.
  assert.is(c.node('a').readStates.length, 1);
  const before = c.node('a').readStates.length;
  c.filter = (m) => m.type !== 'heartbeatResponse';
  c.raw('a').readIndex(enc.encode('r2'));
  c.stabilize();
  for (const m of held) c.raw('a').step(m);
  c.stabilize();
  assert.is(c.node('a').readStates.length, before, 'stale answers did not release r2');
});

test('a new leader serves reads only after committing an entry of its term', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  // b wins but its empty entry cannot reach anyone yet.
  c.isolate('b');
  c.raw('b').campaign();
  c.heal();
  c.filter = (m) => !(m.from === 'b' && m.type === 'append');
  c.run(1);
  c.cut.clear();
  const b = c.raw('b');
  if (b.status().role !== 'leader') {
    // Make b leader deterministically: a transfer from a.
    c.filter = undefined;
    c.raw(c.leader() ?? 'a').transferLeadership('b');
    c.filter = (m) => !(m.from === 'b' && m.type === 'append');
    c.stabilize();
  }
  assert.is(b.status().role, 'leader');
  b.readIndex(enc.encode('early'));
  c.run(2);
  assert.equal(c.node('b').readStates, [], 'held until the first commit of the term');
  c.filter = undefined;
  c.run(2);
  assert.equal(c.node('b').readStates.map((r) => dec.decode(r.context)), ['early']);
  assert.is(c.node('b').readStates[0]?.index, b.status().commit);
});

test('a follower obtains the read index from the leader', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  c.raw('c').readIndex(enc.encode('from-c'));
  c.stabilize();
  assert.equal(c.node('c').readStates.map((r) => [dec.decode(r.context), r.index]), [['from-c', c.raw('a').status().commit]]);
  assert.ok(c.delivered.some((m) => m.type === 'readIndex' && m.from === 'c'));
  assert.ok(c.delivered.some((m) => m.type === 'readIndexResponse' && m.to === 'c' && !m.reject));
});

test('reads fail back to the driver: no leader, leadership lost, forwarded read unanswered', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.raw('b').readIndex(enc.encode('no-leader'));
  c.stabilize();
  assert.equal(c.node('b').droppedReads.map((x) => dec.decode(x)), ['no-leader']);
  c.elect('a');
  c.isolate('a');
  c.raw('a').readIndex(enc.encode('lost'));
  c.run(30);
  assert.is.not(c.raw('a').status().role, 'leader');
  assert.equal(c.node('a').droppedReads.map((x) => dec.decode(x)), ['lost']);
  // A follower's forwarded read that never gets an answer expires after an election timeout.
  c.heal();
  const l = c.waitLeader();
  const f = ['a', 'b', 'c'].find((x) => x !== l) as string;
  c.cut.add(`${f}->${l}`);
  c.raw(f).readIndex(enc.encode('unanswered'));
  c.cut.clear();
  c.filter = (m) => m.type !== 'readIndex';
  c.run(25);
  assert.ok(c.node(f).droppedReads.map((x) => dec.decode(x)).includes('unanswered'));
});

test('lease reads need checkQuorum (config) and skip the heartbeat round', () => {
  assert.throws(
    () => new RawNode({ id: 'a', storage: new MemStorage(), random: mulberry32(1), leaseReads: true, checkQuorum: false }),
    /leaseReads requires checkQuorum/,
  );
  const c = new Cluster(['a', 'b', 'c'], { leaseReads: true });
  // Right after a (re)start, members keep the lease promise they may have made: no votes yet.
  c.elect('a');
  assert.is.not(c.raw('a').status().role, 'leader');
  c.tick(['b', 'c'], 10);
  c.elect('a');
  assert.is(c.raw('a').status().role, 'leader');
  c.run(2);
  // With every follower silent now, a lease read is still served (the lease is recent).
  c.down.add('b');
  c.down.add('c');
  c.raw('a').readIndex(enc.encode('lease'));
  c.stabilize();
  assert.equal(c.node('a').readStates.map((r) => dec.decode(r.context)), ['lease']);
  // After an election timeout without answers the lease is gone: the read waits.
  for (let i = 0; i < 9; i++) {
    c.tick(['a']);
    c.stabilize();
  }
  c.raw('a').readIndex(enc.encode('expired'));
  c.stabilize();
  assert.equal(c.node('a').readStates.map((r) => dec.decode(r.context)), ['lease']);
});

test('single-member leader serves reads at once after its first commit', () => {
  const c = new Cluster(['a']);
  c.elect('a');
  c.raw('a').readIndex(enc.encode('solo'));
  c.stabilize();
  assert.equal(c.node('a').readStates.map((r) => dec.decode(r.context)), ['solo']);
});

test.run();
