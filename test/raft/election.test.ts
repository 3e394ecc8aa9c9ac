// Proves the election rules of §5.2 and §5.4.1: randomized timeouts elect exactly one leader,
// split votes resolve, the up-to-date check compares last TERM before last index, stale-term
// messages are ignored or answered with the newer term, votes leave only after persistence,
// and learners never campaign. Each test drives RawNodes through the in-memory harness.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, clusterWithLogs, msg, MemStorage, mulberry32 } from './harness.ts';
import { RawNode } from '../../src/raft/raw-node.ts';

test('randomized timeouts elect exactly one leader (election safety over many seeds)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = new Cluster(['a', 'b', 'c', 'd', 'e'], { seed, preVote: false, checkQuorum: false });
    const leadersByTerm = new Map<number, Set<string>>();
    for (let t = 0; t < 120; t++) {
      c.run(1);
      for (const id of c.leaders()) {
        const term = c.raw(id).status().term;
        const set = leadersByTerm.get(term) ?? new Set<string>();
        set.add(id);
        leadersByTerm.set(term, set);
        assert.ok(set.size <= 1, `seed ${seed}: two leaders in term ${term}`);
      }
    }
    assert.ok(c.leader() !== undefined, `seed ${seed}: a leader was elected`);
  }
});

test('split votes: simultaneous candidates resolve to one leader in a later term', () => {
  const c = new Cluster(['a', 'b', 'c', 'd'], { preVote: false, checkQuorum: false, seed: 7 });
  // a and b campaign at once; a gets c's vote, b gets d's: nobody reaches 3 of 4.
  c.raw('a').campaign();
  c.raw('b').campaign();
  c.filter = (m) => !(m.type === 'vote' && ((m.from === 'a' && m.to === 'd') || (m.from === 'b' && m.to === 'c')));
  c.stabilize();
  assert.equal(c.leaders(), []);
  assert.is(c.raw('a').status().role, 'candidate');
  assert.is(c.raw('b').status().role, 'candidate');
  c.filter = undefined;
  const l = c.waitLeader();
  assert.ok(c.raw(l).status().term >= 2, 'the leader was elected in a later term');
  assert.is(c.leaders().length, 1);
});

test('§5.4.1: a higher last TERM wins even with a shorter log; equal terms compare index', () => {
  // b: longer log of an older term. c: same last term as a but longer. a: short, newest term.
  const c = clusterWithLogs({
    a: { terms: [1, 3], hard: { term: 3 } },
    b: { terms: [1, 2, 2, 2], hard: { term: 3 } },
    c: { terms: [1, 3, 3], hard: { term: 3 } },
  }, { preVote: false });
  c.elect('b');
  assert.is.not(c.raw('b').status().role, 'leader', 'b loses: a and c have a newer last term');
  c.elect('a');
  assert.is(c.raw('a').status().role, 'leader', 'a wins with b, whose last term is older');
  const cVote = c.delivered.filter((m) => m.type === 'voteResponse' && m.from === 'c' && m.to === 'a');
  assert.ok(cVote.length > 0 && cVote.every((m) => m.reject), 'c refuses a: same last term, shorter log');
});

test('§5.4.1: voters refuse a candidate whose last term is older, regardless of index', () => {
  const s = new MemStorage({ voters: ['a', 'b', 'c'], learners: [] });
  s.append([
    { term: 1, index: 1, type: 'normal', data: new Uint8Array(0) },
    { term: 3, index: 2, type: 'normal', data: new Uint8Array(0) },
  ]);
  s.hardState = { term: 3, vote: '', commit: 0 };
  const n = new RawNode({ id: 'a', storage: s, random: mulberry32(1), preVote: false });
  // Candidate b: last index 4 but last term 2 — longer but older: refused.
  n.step(msg({ type: 'vote', from: 'b', to: 'a', term: 4, index: 4, logTerm: 2 }));
  let rd = n.ready();
  assert.is(rd.messagesAfterPersist.length, 1);
  assert.is(rd.messagesAfterPersist[0]?.reject, true);
  n.advance();
  // Candidate c: last index 2, last term 3 (equal term, equal index): granted.
  n.step(msg({ type: 'vote', from: 'c', to: 'a', term: 5, index: 2, logTerm: 3 }));
  rd = n.ready();
  assert.is(rd.messagesAfterPersist[0]?.reject, false);
  assert.equal(rd.hardState, { term: 5, vote: 'c', commit: 0 });
  assert.is(rd.mustSync, true);
  n.advance();
  // Same term, candidate with last term 3 but shorter index 1: refused (and already voted).
  n.step(msg({ type: 'vote', from: 'b', to: 'a', term: 6, index: 1, logTerm: 3 }));
  rd = n.ready();
  assert.is(rd.messagesAfterPersist[0]?.reject, true);
  n.advance();
});

test('a member votes at most once per term and grants again to the same candidate', () => {
  const n = new RawNode({ id: 'a', storage: new MemStorage({ voters: ['a', 'b', 'c'], learners: [] }), random: mulberry32(1), preVote: false });
  n.step(msg({ type: 'vote', from: 'b', to: 'a', term: 1 }));
  n.step(msg({ type: 'vote', from: 'c', to: 'a', term: 1 }));
  n.step(msg({ type: 'vote', from: 'b', to: 'a', term: 1 }));
  const rd = n.ready();
  assert.equal(rd.messagesAfterPersist.map((m) => [m.to, m.reject]), [['b', false], ['c', true], ['b', false]]);
  assert.equal(rd.messages, []);
});

test('stale-term messages: ignored, and a stale leader is told the newer term', () => {
  const c = new Cluster(['a', 'b', 'c'], { checkQuorum: false });
  c.elect('a');
  c.elect('b');
  const term = c.raw('b').status().term;
  const b = c.raw('b');
  // An old append from a (previous term) to b: b answers with its term, appends nothing.
  b.step(msg({ type: 'append', from: 'a', to: 'b', term: term - 1, index: 1, logTerm: 1, entries: [{ term: term - 1, index: 2, type: 'normal', data: new Uint8Array(1) }] }));
  const rd = b.ready();
  const resp = rd.messagesAfterPersist.find((m) => m.type === 'appendResponse');
  assert.ok(resp);
  assert.is(resp.term, term);
  assert.equal(rd.entries, []);
  b.advance();
  // A stale vote request is ignored entirely.
  b.step(msg({ type: 'vote', from: 'c', to: 'b', term: term - 1, index: 99, logTerm: 99 }));
  assert.is(b.hasReady(), false);
  assert.is(b.status().term, term);
});

test('a stale leader steps down when it hears the newer term', () => {
  const c = new Cluster(['a', 'b', 'c'], { checkQuorum: false });
  c.elect('a');
  c.isolate('a');
  c.elect('b');
  assert.is(c.raw('a').status().role, 'leader', 'a is stale but does not know yet');
  c.heal();
  c.run(2);
  assert.is(c.raw('a').status().role, 'follower');
  assert.is(c.raw('a').status().leader, 'b');
});

test('votes and vote requests go after persistence; pre-votes may go at once', () => {
  const n = new RawNode({ id: 'a', storage: new MemStorage({ voters: ['a', 'b', 'c'], learners: [] }), random: mulberry32(1) });
  n.campaign();
  let rd = n.ready();
  assert.equal(rd.messages.map((m) => m.type), ['preVote', 'preVote']);
  assert.equal(rd.messagesAfterPersist, []);
  n.advance();
  n.step(msg({ type: 'preVoteResponse', from: 'b', to: 'a', term: 1 }));
  rd = n.ready();
  assert.equal(rd.messagesAfterPersist.map((m) => m.type), ['vote', 'vote']);
  assert.equal(rd.hardState, { term: 1, vote: 'a', commit: 0 });
  assert.is(rd.mustSync, true);
  n.advance();
});

test('learners never campaign, and their votes do not count', () => {
  const c = new Cluster(['a', 'b'], { learners: ['l'] });
  c.raw('l').campaign();
  c.run(50);
  assert.is.not(c.raw('l').status().role, 'leader');
  assert.ok(['a', 'b'].includes(c.leader() ?? ''), 'a voter leads');
  // A learner never becomes even a pre-candidate.
  for (const rd of c.node('l').readies) assert.ok(rd.softState === undefined || rd.softState.role === 'follower');
});

test('messages to self are never emitted', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  c.run(5);
  for (const m of c.delivered) assert.is.not(m.from, m.to);
});

test.run();
