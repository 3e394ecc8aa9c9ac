// Proves the connection-lost hint (Raft.connectionLost): when the transport sees the connection
// to the leader close (a killed process), followers elect a new leader within a couple of
// heartbeats instead of a randomized election timeout; a hint about a live leader (one follower's
// socket hiccup) disrupts nothing, because the members still hearing from the leader refuse the
// pre-vote; hints about non-leaders, from leaders, and with lease reads on change nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './harness.ts';
import type { ClusterOptions } from './harness.ts';

const ELECTION = 10;

/** a, b, c with a elected and settled for a few heartbeats. */
function ledByA(options: ClusterOptions): Cluster {
  const c = new Cluster(['a', 'b', 'c'], { electionTicks: ELECTION, ...options });
  c.elect('a');
  c.run(3);
  return c;
}

/** Kills `id` (no ticks, no messages) and returns how many ticks the others need to elect anew. */
function ticksToNewLeader(c: Cluster, dead: string, hint: boolean): number {
  c.down.add(dead);
  const alive = [...c.nodes.keys()].filter((id) => id !== dead);
  if (hint) for (const id of alive) c.raw(id).reportConnectionLost(dead);
  for (let t = 1; t <= 10 * ELECTION; t++) {
    c.tick(alive);
    c.stabilize();
    const l = c.leader();
    if (l !== undefined && l !== dead) return t;
  }
  throw new Error('no new leader');
}

test('a killed leader: followers told its connection closed elect within a tick or two', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = ledByA({ seed });
    const t = ticksToNewLeader(c, 'a', true);
    assert.ok(t <= 1, `seed ${seed}: ${t} ticks`);
    assert.is(c.leader(), 'b', 'the first by rank campaigns first');
  }
});

test('the first by rank is behind: it loses its pre-vote and the next one wins a heartbeat later', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const c = new Cluster(['a', 'b', 'c', 'd', 'e'], { seed, electionTicks: ELECTION });
    c.elect('a');
    c.run(3);
    c.cut.add('a->b');
    c.propose('a', 'x'); // committed by a, c, d, e; b never sees it
    c.run(1);
    c.heal();
    c.cut.add('a->b'); // b keeps missing it until a dies
    const t = ticksToNewLeader(c, 'a', true);
    assert.ok(t <= 3, `seed ${seed}: ${t} ticks`);
    assert.is.not(c.leader(), 'b');
  }
});

test('without the hint the same kill takes at least an election timeout', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const c = ledByA({ seed });
    assert.ok(ticksToNewLeader(c, 'a', false) >= ELECTION - 1);
  }
});

test('a false hint on one follower while the leader lives disrupts nothing', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const c = ledByA({ seed });
    const term = c.raw('a').status().term;
    // b's connection hiccups and a's heartbeats to b are lost for a while: b campaigns early,
    // c (still hearing from a) refuses the pre-vote, nothing changes term.
    c.raw('b').reportConnectionLost('a');
    c.cut.add('a->b');
    c.run(3);
    c.heal();
    c.run(5);
    assert.is(c.leader(), 'a', `seed ${seed}`);
    assert.is(c.raw('a').status().term, term, `seed ${seed}: no new term`);
    assert.is(c.raw('b').status().leader, 'a');
  }
});

/** Ticks to a new leader after killing a, with `hint` given to b and c (same seed, same schedule otherwise). */
function afterKill(options: { seed: number; leaseReads?: boolean }, hint: (c: Cluster) => void): number {
  const c = ledByA(options);
  hint(c);
  return ticksToNewLeader(c, 'a', false);
}

test('hints about non-leaders, on the leader itself, and with lease reads change nothing', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const none = afterKill({ seed }, () => {});
    const ignored = afterKill({ seed }, (c) => {
      c.raw('b').reportConnectionLost('c'); // c is not b's leader
      c.raw('a').reportConnectionLost('b'); // a leads: the hint is for followers only
    });
    assert.is(ignored, none, `seed ${seed}`);
    const lease = (hint: boolean): number =>
      afterKill({ seed, leaseReads: true }, (c) => {
        if (hint) for (const id of ['b', 'c']) c.raw(id).reportConnectionLost('a');
      });
    assert.is(lease(true), lease(false), `seed ${seed}: lease reads ignore the hint`);
    assert.ok(afterKill({ seed }, (c) => ['b', 'c'].forEach((id) => c.raw(id).reportConnectionLost('a'))) < none, `seed ${seed}: the real hint is faster`);
  }
});

test('a message from the leader clears the hint (the lease is honoured again)', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const c = ledByA({ seed });
    const term = c.raw('a').status().term;
    c.raw('b').reportConnectionLost('a');
    // a's next heartbeat reaches b before b campaigns: b is a's follower again, lease and all.
    c.tick(['a']);
    c.stabilize();
    // Now c loses a (but not b) and campaigns: b, hearing from a, must refuse its pre-vote.
    c.cut.add('a->c');
    c.cut.add('c->a');
    c.run(4 * ELECTION);
    assert.is(c.leader(), 'a', `seed ${seed}`);
    assert.is(c.raw('a').status().term, term, `seed ${seed}: b honoured a's lease`);
  }
});

test('without pre-vote or without checkQuorum the hint is ignored (a false one could depose the leader)', () => {
  for (let seed = 1; seed <= 10; seed++) {
    for (const options of [{ preVote: false }, { checkQuorum: false }]) {
      const none = afterKill({ seed, ...options }, () => {});
      const hinted = afterKill({ seed, ...options }, (c) => ['b', 'c'].forEach((id) => c.raw(id).reportConnectionLost('a')));
      assert.is(hinted, none, `seed ${seed} ${JSON.stringify(options)}`);
    }
  }
});

test('a flapping connection: one hint per election timeout is acted on', () => {
  const c = ledByA({ seed: 3 });
  const term = c.raw('a').status().term;
  c.cut.add('a->b');
  c.raw('b').reportConnectionLost('a');
  c.run(2);
  assert.is(c.raw('b').status().leader, '', 'the first hint: b campaigned (c refused), so it follows nobody');
  c.heal();
  c.run(1);
  assert.is(c.raw('b').status().leader, 'a');
  c.cut.add('a->b');
  c.raw('b').reportConnectionLost('a');
  c.run(3);
  assert.is(c.raw('b').status().leader, 'a', 'the second hint, within an election timeout, was ignored');
  c.heal();
  c.run(2);
  assert.is(c.leader(), 'a');
  assert.is(c.raw('a').status().term, term);
});

test('two leaders killed in a row (a rolling restart): both replaced within a tick or two', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const c = new Cluster(['a', 'b', 'c', 'd', 'e'], { seed, electionTicks: ELECTION });
    c.elect('a');
    c.run(3);
    assert.ok(ticksToNewLeader(c, 'a', true) <= 2, `seed ${seed}: first kill`);
    const second = c.leader() as string;
    c.run(2); // well within an election timeout of the first hint
    assert.ok(ticksToNewLeader(c, second, true) <= 3, `seed ${seed}: second kill`);
  }
});

test('a pre-vote that arrives before the hint is answered when the hint comes', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const c = ledByA({ seed });
    const term = c.raw('a').status().term;
    c.down.add('a');
    // b hears a's connection close and campaigns; c's transport is slower to notice.
    c.raw('b').reportConnectionLost('a');
    c.tick(['b', 'c']);
    c.stabilize();
    assert.is(c.raw('b').status().role, 'preCandidate', `seed ${seed}: c, still in a's lease, ignored b's pre-vote`);
    c.raw('c').reportConnectionLost('a');
    c.stabilize();
    assert.is(c.leader(), 'b', `seed ${seed}: c answered the pre-vote it had ignored`);
    assert.is(c.raw('b').status().term, term + 1);
  }
});

test.run();
