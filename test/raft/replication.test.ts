// Proves log replication (§5.3, §5.4.2): a new leader brings every follower of Figure 7 into
// agreement, fast back-off needs few round trips, Figure 8's rule (commit only through an entry
// of the current term), per-follower flow control (probe → replicate, in-flight window bounded
// by count and by bytes), batching bounded by maxMessageBytes, and pipelining.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, clusterWithLogs, enc, logTerms, msg, MemStorage, mulberry32 } from './harness.ts';
import { RawNode } from '../../src/raft/raw-node.ts';
import type { Message } from '../../src/protocol/types.ts';

const LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const FIGURE7: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

for (const [name, follower] of Object.entries(FIGURE7)) {
  test(`Figure 7 (${name}): the term-8 leader makes follower ${name}'s log identical to its own`, () => {
    // x holds the leader's log so the leader can win even against d's newer last term.
    const c = clusterWithLogs({
      lead: { terms: LEADER, hard: { term: 7, commit: 3 } },
      x: { terms: LEADER, hard: { term: 7, commit: 3 } },
      [name]: { terms: follower, hard: { term: 7, commit: 3 } },
    });
    c.elect('lead');
    assert.is(c.raw('lead').status().role, 'leader');
    c.propose('lead', 'after');
    const expected = logTerms(c.node('lead'));
    assert.equal(expected.slice(0, 10), LEADER);
    assert.equal(logTerms(c.node(name)), expected);
    assert.equal(c.node(name).storage.ents.map((e) => e.index), expected.map((_, i) => i + 1));
  });
}

test('fast back-off: a follower with a long divergent tail is repaired in few round trips', () => {
  const divergent = [1, ...Array.from({ length: 500 }, () => 2)];
  const c = clusterWithLogs({
    lead: { terms: [1, 3, 3], hard: { term: 3, commit: 1 } },
    x: { terms: [1, 3, 3], hard: { term: 3, commit: 1 } },
    f: { terms: divergent, hard: { term: 3, commit: 1 } },
  });
  c.elect('lead');
  const rejects = c.delivered.filter((m) => m.type === 'appendResponse' && m.reject && m.from === 'f');
  assert.ok(rejects.length <= 2, `${rejects.length} rejections`);
  assert.equal(logTerms(c.node('f')), logTerms(c.node('lead')));
});

test('Figure 8: a leader does not commit an old-term entry replicated on a majority until its own term entry is', () => {
  // S1 led term 2 and put index 2 on S2; S5 led term 3 (index 2 of term 3). S1 is back in term 4.
  const c = clusterWithLogs({
    s1: { terms: [1, 2], hard: { term: 3, commit: 1 } },
    s2: { terms: [1, 2], hard: { term: 3, commit: 1 } },
    s3: { terms: [1], hard: { term: 3, commit: 1 } },
    s4: { terms: [1], hard: { term: 3, commit: 1 } },
    s5: { terms: [1, 3], hard: { term: 3, commit: 1 } },
  }, { maxMessageBytes: 1 });
  c.down.add('s4');
  c.down.add('s5');
  // s3 receives index 2 (term 2) but nothing of term 4.
  // (The first such append is the leader's probe at index 2, which s3 rejects: it lacks index 2.)
  let probes = 0;
  c.filter = (m) => !(m.to === 's3' && m.type === 'append' && m.entries.some((e) => e.term === 4) && probes++ > 0);
  c.elect('s1');
  assert.is(c.raw('s1').status().role, 'leader');
  assert.is(c.node('s3').storage.ents.length, 2, 's3 holds index 2 of term 2: a majority (s1, s2, s3) has it');
  assert.is(c.raw('s1').status().commit, 1, 'index 2 is NOT committed: its term is not the current one');
  c.filter = undefined;
  c.run(2);
  assert.ok(c.raw('s1').status().commit >= 3, 'committed once the term-4 entry reaches a majority');
});

test('followers start in probe, move to replicate after the first acknowledgement', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const st = c.raw('a').status();
  assert.is(st.progress?.['b']?.state, 'replicate');
  assert.is(st.progress?.['b']?.match, st.lastIndex);
});

function leaderWithOneFollower(opts: { maxInflightMessages?: number; maxInflightBytes?: number; maxMessageBytes?: number }): {
  c: Cluster;
  sentTo: (id: string) => Message[];
} {
  const c = new Cluster(['a', 'b', 'c'], opts);
  c.elect('a');
  return { c, sentTo: (id) => c.queue.filter((m) => m.to === id && m.type === 'append') };
}

test('flow control: in-flight appends to one follower are bounded by count', () => {
  const { c } = leaderWithOneFollower({ maxInflightMessages: 3, maxMessageBytes: 10 });
  const a = c.raw('a');
  // Each 10-byte entry fills one message; nothing is acknowledged.
  for (let i = 0; i < 10; i++) a.propose(new Uint8Array(10));
  const toB = c.node('a').handleReady().filter((m) => m.to === 'b' && m.type === 'append');
  assert.is(toB.length, 3);
  assert.is(toB.reduce((s, m) => s + m.entries.length, 0), 3);
  assert.is(a.status().progress?.['b']?.next, a.status().lastIndex - 6);
});

test('flow control: in-flight appends to one follower are bounded by bytes', () => {
  const { c } = leaderWithOneFollower({ maxInflightBytes: 25, maxMessageBytes: 10 });
  const a = c.raw('a');
  for (let i = 0; i < 10; i++) a.propose(new Uint8Array(10));
  const toB = c.node('a').handleReady().filter((m) => m.to === 'b' && m.type === 'append');
  // 10 + 10 < 25, the third reaches 30 >= 25: the window is then full.
  assert.is(toB.length, 3);
});

test('batching: one append carries entries up to maxMessageBytes (at least one)', () => {
  const { c } = leaderWithOneFollower({ maxMessageBytes: 1000 });
  const a = c.raw('a');
  for (let i = 0; i < 50; i++) a.propose(new Uint8Array(100));
  const toB = c.node('a').handleReady().filter((m) => m.to === 'b' && m.type === 'append');
  for (const m of toB) {
    const bytes = m.entries.reduce((s, e) => s + e.data.length, 0);
    assert.ok(bytes <= 1000, `${bytes} bytes`);
  }
  assert.is(toB.length, 5);
});

test('pipelining: the leader sends new appends before earlier ones are acknowledged', () => {
  const { c } = leaderWithOneFollower({});
  const a = c.raw('a');
  a.propose(enc.encode('one'));
  assert.is(c.node('a').handleReady().filter((m) => m.to === 'b' && m.type === 'append').length, 1);
  a.propose(enc.encode('two'));
  const second = c.node('a').handleReady().filter((m) => m.to === 'b' && m.type === 'append');
  assert.is(second.length, 1, 'sent without waiting for the first acknowledgement');
  assert.is(second[0]?.entries[0]?.data.length, 3);
});

test('a follower rejecting an append gets the conflict hint of its log', () => {
  const s = new MemStorage({ voters: ['a', 'b'], learners: [] });
  s.append([1, 1, 2, 2, 2].map((term, i) => ({ term, index: i + 1, type: 'normal' as const, data: new Uint8Array(0) })));
  s.hardState = { term: 3, vote: '', commit: 1 };
  const b = new RawNode({ id: 'b', storage: s, random: mulberry32(1) });
  // The leader probes at index 7 (beyond b's log): hint = b's last index.
  b.step(msg({ type: 'append', from: 'a', to: 'b', term: 3, index: 7, logTerm: 3 }));
  let rd = b.ready();
  let r = rd.messagesAfterPersist[0];
  assert.ok(r !== undefined && r.reject);
  assert.is(r.rejectHint, 5);
  assert.is(r.logTerm, 2);
  b.advance();
  // The leader probes at index 4 with term 3: b's entries of term 2 at 3..4 are skipped.
  b.step(msg({ type: 'append', from: 'a', to: 'b', term: 3, index: 4, logTerm: 3 }));
  rd = b.ready();
  r = rd.messagesAfterPersist[0];
  assert.ok(r !== undefined && r.reject);
  assert.is(r.rejectHint, 4);
  assert.is(r.logTerm, 2);
  b.advance();
});

test('a follower never truncates committed entries and acknowledges a stale append at commit', () => {
  const s = new MemStorage({ voters: ['a', 'b'], learners: [] });
  s.append([1, 1, 1].map((term, i) => ({ term, index: i + 1, type: 'normal' as const, data: new Uint8Array(0) })));
  s.hardState = { term: 1, vote: '', commit: 3 };
  const b = new RawNode({ id: 'b', storage: s, random: mulberry32(1) });
  b.step(msg({ type: 'append', from: 'a', to: 'b', term: 1, index: 1, logTerm: 1 }));
  const rd = b.ready();
  assert.is(rd.messagesAfterPersist[0]?.index, 3);
  assert.equal(rd.entries, []);
  b.advance();
});

test.run();
