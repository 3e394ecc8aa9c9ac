// Proves one-at-a-time membership changes: add a voter, add a learner and promote it, remove a
// member; changes take effect when advance() is called for the Ready that carried them; a leader
// refuses a second change until the first is applied (and a new leader until its first entry is);
// a removed leader steps down; learners replicate but never vote; a brand-new cluster bootstraps
// from bootstrapBatch().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, MemStorage, enc, mulberry32 } from './harness.ts';
import { bootstrapBatch, decodeConfChange, encodeConfChange } from '../../src/raft/conf-change.ts';
import { RawNode } from '../../src/raft/raw-node.ts';
import { ConfChangeInProgressError } from '../../src/errors.ts';
import type { ConfChange } from '../../src/protocol/types.ts';

const none = new Uint8Array(0);
const cc = (type: ConfChange['type'], nodeId: string): ConfChange => ({ type, nodeId, context: none });

test('conf change codec round-trips and rejects garbage', () => {
  const x: ConfChange = { type: 'promoteLearner', nodeId: 'n-é', context: enc.encode('{"url":"ws://x"}') };
  assert.equal(decodeConfChange(encodeConfChange(x)), x);
  assert.is(decodeConfChange(new Uint8Array([9, 9, 9])), undefined);
});

test('add a voter: the new member (empty storage) catches up and counts in the quorum', () => {
  const c = new Cluster(['a', 'b', 'c'], { bootstrap: true });
  c.elect('a');
  c.propose('a', 'before');
  c.raw('a').proposeConfChange(cc('addVoter', 'd'));
  c.add('d', new MemStorage());
  c.stabilize();
  c.run(3);
  assert.equal(c.raw('a').status().confState.voters, ['a', 'b', 'c', 'd']);
  assert.equal(c.raw('d').status().confState.voters, ['a', 'b', 'c', 'd']);
  assert.equal(c.node('d').state, ['before']);
  assert.is(c.raw('d').status().commit, c.raw('a').status().commit);
  // With 4 voters the quorum is 3: a + b alone cannot commit.
  c.down.add('c');
  c.down.add('d');
  c.raw('a').propose(enc.encode('needs-3'));
  c.stabilize();
  assert.not.ok(c.node('a').state.includes('needs-3'));
  c.down.delete('d');
  c.run(2);
  assert.ok(c.node('a').state.includes('needs-3'));
});

test('a change applies at advance() of the Ready that carried it', () => {
  const c = new Cluster(['a']);
  c.elect('a');
  const a = c.node('a');
  a.raw.proposeConfChange(cc('addLearner', 'l'));
  // Ready 1: the entry to persist. Ready 2: the entry committed.
  let rd = a.raw.ready();
  a.storage.append(rd.entries);
  a.raw.advance();
  rd = a.raw.ready();
  assert.is(rd.committedEntries.some((e) => e.type === 'confChange'), true);
  assert.equal(a.raw.status().confState.learners, [], 'not applied before advance()');
  a.raw.advance();
  assert.equal(a.raw.status().confState.learners, ['l']);
});

test('learners replicate, never vote, and can be promoted', () => {
  const c = new Cluster(['a', 'b'], { learners: ['l'] });
  c.elect('a');
  c.propose('a', 'x');
  assert.equal(c.node('l').state, ['x']);
  assert.not.ok(c.delivered.some((m) => (m.type === 'vote' || m.type === 'preVote') && m.to === 'l'), 'nobody asks a learner for a vote');
  c.raw('a').proposeConfChange(cc('promoteLearner', 'l'));
  c.stabilize();
  c.run(2);
  assert.equal(c.raw('a').status().confState, { voters: ['a', 'b', 'l'], learners: [] });
  assert.is(c.raw('a').status().progress?.['l']?.learner, false);
});

test('a leader refuses a second change until the first is applied', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.down.add('b');
  c.down.add('c');
  c.raw('a').proposeConfChange(cc('addLearner', 'x'));
  c.stabilize();
  assert.throws(() => c.raw('a').proposeConfChange(cc('addLearner', 'y')), (e: unknown) => e instanceof ConfChangeInProgressError);
  c.down.clear();
  c.run(2);
  c.raw('a').proposeConfChange(cc('addLearner', 'y'));
  c.stabilize();
  assert.equal(c.raw('a').status().confState.learners, ['x', 'y']);
});

test('a new leader refuses a change until its own first entry is applied', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.raw('a').campaign();
  // Right after winning, before its empty entry is committed/applied.
  let won = false;
  for (let i = 0; i < 50 && !won; i++) {
    for (const n of c.nodes.values()) while (n.raw.hasReady()) c.queue.push(...n.handleReady());
    const q = c.queue;
    c.queue = [];
    for (const m of q) {
      c.deliver(m);
      if (c.raw('a').status().role === 'leader') {
        won = true;
        break;
      }
    }
  }
  assert.ok(won);
  assert.throws(() => c.raw('a').proposeConfChange(cc('addLearner', 'x')), (e: unknown) => e instanceof ConfChangeInProgressError);
});

test('remove a follower: the quorum shrinks and the removed member cannot disrupt the leader', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.raw('a').proposeConfChange(cc('removeNode', 'c'));
  c.stabilize();
  c.run(2);
  assert.equal(c.raw('a').status().confState.voters, ['a', 'b']);
  const term = c.raw('a').status().term;
  // The removed member campaigns: nobody listens.
  c.isolate('c');
  c.run(40);
  c.heal();
  c.run(20);
  assert.is(c.raw('a').status().role, 'leader');
  assert.is(c.raw('a').status().term, term);
  // Even a vote request with a huge term from the removed member is ignored (leader stickiness).
  c.raw('a').step({ type: 'vote', from: 'c', to: 'a', term: term + 100, logTerm: 99, index: 999, entries: [], commit: 0, reject: false, rejectHint: 0 });
  assert.is(c.raw('a').status().term, term);
});

test('a lagging member accepts a leader it has not yet learned was added (sim finding F1)', () => {
  const c = new Cluster(['a', 'b', 'c'], { bootstrap: true });
  c.elect('a');
  c.raw('a').proposeConfChange(cc('addVoter', 'd'));
  c.add('d', new MemStorage());
  // c misses the conf change entirely.
  c.down.add('c');
  c.stabilize();
  c.run(3);
  c.down.delete('c');
  // d takes over while c still has the old membership.
  c.raw('a').transferLeadership('d');
  c.cut.add('a->c');
  c.stabilize();
  assert.is(c.raw('d').status().role, 'leader');
  c.raw('d').propose(enc.encode('from-d'));
  c.run(3);
  assert.ok(c.node('c').state.includes('from-d'), 'c learned from d');
  assert.equal(c.raw('c').status().confState.voters, ['a', 'b', 'c', 'd']);
});

test('a removed leader steps down and the rest elect a new one', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.raw('a').proposeConfChange(cc('removeNode', 'a'));
  c.stabilize();
  assert.is.not(c.raw('a').status().role, 'leader');
  c.run(60);
  const l = c.leader();
  assert.ok(l === 'b' || l === 'c');
  c.propose(l, 'after');
  assert.ok(c.node('b').state.includes('after'));
  assert.ok(c.node('c').state.includes('after'));
});

test('a member that saw an id removed accepts it again once a snapshot says it is back (sim finding F3)', () => {
  const c = new Cluster(['a', 'b', 'c', 'd'], { bootstrap: true });
  c.elect('a');
  c.raw('a').proposeConfChange(cc('removeNode', 'd'));
  c.stabilize();
  c.run(2);
  // c saw d removed; it misses d's re-add and learns it from a snapshot.
  c.down.add('c');
  c.raw('a').proposeConfChange(cc('addLearner', 'd'));
  c.stabilize();
  c.run(2);
  c.propose('a', 'x');
  c.node('a').compact();
  c.down.delete('c');
  c.run(3);
  assert.ok(c.node('c').readies.some((rd) => rd.snapshot !== undefined), 'c learned the re-add from a snapshot');
  c.raw('a').transferLeadership('c');
  c.run(3);
  assert.is(c.raw('c').status().role, 'leader');
  c.propose('c', 'from-c');
  c.run(2);
  assert.ok(c.node('d').state.includes('from-c'), 'd replicates from c');
  assert.is(c.raw('c').status().progress?.['d']?.match, c.raw('c').status().lastIndex);
});

test('a member that knows no membership (joiner / wiped) never grants a vote (sim finding F2)', () => {
  const n = new RawNode({ id: 'x', storage: new MemStorage(), random: mulberry32(1) });
  n.step({ type: 'vote', from: 'a', to: 'x', term: 5, logTerm: 1, index: 1, entries: [], commit: 0, reject: false, rejectHint: 0 });
  n.step({ type: 'preVote', from: 'b', to: 'x', term: 6, logTerm: 1, index: 1, entries: [], commit: 0, reject: false, rejectHint: 0 });
  const rd = n.ready();
  const answers = [...rd.messages, ...rd.messagesAfterPersist].filter((m) => m.type === 'voteResponse' || m.type === 'preVoteResponse');
  assert.is(answers.length, 2);
  assert.ok(answers.every((m) => m.reject));
  n.advance();
});

test('bootstrapBatch: a brand-new cluster learns its voters from committed conf entries', () => {
  const batch = bootstrapBatch(['a', 'b', 'c']);
  const nodes = ['a', 'b', 'c'].map((id) => {
    const s = new MemStorage();
    s.append(batch.entries);
    s.hardState = batch.hardState;
    return new RawNode({ id, storage: s, random: mulberry32(id.charCodeAt(0)) });
  });
  for (const n of nodes) assert.equal(n.status().confState.voters, ['a', 'b', 'c']);
  const first = nodes[0] as RawNode;
  assert.is(first.hasReady(), true);
  const rd = first.ready();
  assert.is(rd.committedEntries.length, 3, 'the bootstrap entries are delivered for the app to see');
  first.advance();
});

test.run();
