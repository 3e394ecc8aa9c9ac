// Proves that pipelined replication stays calm on a link that reorders messages (simulator
// finding F4): a rejection that predates what the leader already knows is ignored (its index is
// matched, or the follower's log has grown past its hint since), a reject hint never moves
// `next` below `match + 1`, and a follower catching up through a reordering link converges with
// a bounded number of messages instead of an append/reject storm. Scenario tests on RawNodes
// with a hand-driven message queue, plus unit checks of Progress.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, mulberry32 } from './harness.ts';
import { Progress } from '../../src/raft/progress.ts';
import type { Message } from '../../src/protocol/types.ts';

function appendsTo(out: readonly Message[], to: string): Message[] {
  return out.filter((m) => m.to === to && m.type === 'append');
}

/** Leader a, followers b and c, b in replicate; every entry travels in its own append. */
function pipelined(): Cluster {
  const c = new Cluster(['a', 'b', 'c'], { maxMessageBytes: 10 });
  c.elect('a');
  assert.is(c.raw('a').status().progress?.['b']?.state, 'replicate');
  return c;
}

test('a rejection that overtook an acknowledgement is stale: the leader stays in replicate', () => {
  const c = pipelined();
  const a = c.raw('a');
  const match = a.status().progress?.['b']?.match ?? 0;
  for (let i = 0; i < 3; i++) a.propose(new Uint8Array(10));
  const [first, second, third] = appendsTo(c.node('a').handleReady(), 'b');
  assert.ok(first !== undefined && second !== undefined && third !== undefined);
  assert.is(first.index, match);
  // The link delivers them backwards: b rejects the later two (it lacks their previous entry),
  // then accepts the first.
  const b = c.node('b');
  const answers: Message[] = [];
  for (const m of [third, second, first]) {
    b.raw.step(m);
    answers.push(...b.handleReady().filter((x) => x.type === 'appendResponse'));
  }
  const [rejectThird, rejectSecond, ack] = answers;
  assert.ok(rejectThird?.reject === true && rejectSecond?.reject === true && ack?.reject === false);
  assert.is(rejectThird.rejectHint, match);
  // Back at the leader the acknowledgement arrives first, then the two older rejections.
  a.step(ack);
  assert.is(a.status().progress?.['b']?.match, match + 1);
  c.node('a').handleReady(); // the acknowledgement's own effects (commit)
  const before = a.status().progress?.['b'];
  a.step(rejectThird); // hint (match) < the match the leader now knows: the log grew since
  a.step(rejectSecond); // rejected index <= match: already acknowledged
  const after = a.status().progress?.['b'];
  assert.is(after?.state, 'replicate', 'stale rejections must not send the follower back to probe');
  assert.is(after?.next, before?.next, 'nothing is re-sent for a stale rejection');
  assert.not.ok(a.hasReady(), 'nothing is re-sent for a stale rejection');
});

test('a fresh rejection in replicate (a lost append) still falls back to probing from the hint', () => {
  const c = pipelined();
  const a = c.raw('a');
  const match = a.status().progress?.['b']?.match ?? 0;
  for (let i = 0; i < 3; i++) a.propose(new Uint8Array(10));
  const [, second] = appendsTo(c.node('a').handleReady(), 'b');
  assert.ok(second !== undefined);
  // The first append is lost: b rejects the second with its last index as the hint.
  const b = c.node('b');
  b.raw.step(second);
  const reject = b.handleReady().find((x) => x.type === 'appendResponse');
  assert.ok(reject?.reject === true);
  assert.is(reject.rejectHint, match);
  a.step(reject);
  const pr = a.status().progress?.['b'];
  assert.is(pr?.state, 'probe');
  assert.is(pr?.next, match + 1);
  const probe = appendsTo(c.node('a').handleReady(), 'b');
  assert.is(probe.length, 1, 'one probe, at the follower\'s last index');
  assert.is(probe[0]?.index, match);
  c.queue.push(...probe);
  c.stabilize();
  c.run(2);
  assert.is(a.status().progress?.['b']?.match, a.status().lastIndex);
  assert.is(a.status().progress?.['b']?.state, 'replicate');
});

test('Progress: a reject hint never moves next below match + 1, in probe or replicate', () => {
  const probe = new Progress(21, false, 8, 1 << 20);
  probe.match = 10;
  // The follower hinted 15, but the leader's terms map that hint back to 3 (fast back-off).
  assert.ok(probe.maybeDecrTo(20, 15, 3));
  assert.is(probe.next, 11);
  assert.not.ok(probe.maybeDecrTo(10, 15, 3), 'a probe rejected at or below match is stale');
  probe.next = 21;
  assert.not.ok(probe.maybeDecrTo(20, 9, 9), 'a hint below match predates the acknowledgement');
  assert.not.ok(probe.maybeDecrTo(19, 15, 15), 'in probe state only the last probe counts');
  const repl = new Progress(11, false, 8, 1 << 20);
  repl.match = 10;
  repl.becomeReplicate();
  repl.sentEntries(15, 5, 5);
  assert.ok(repl.maybeDecrTo(15, 12, 12));
  assert.is(repl.state, 'probe');
  assert.is(repl.next, 13, 'probes right after the follower\'s hint');
  repl.becomeReplicate();
  repl.sentEntries(20, 5, 5);
  assert.not.ok(repl.maybeDecrTo(20, 9, 9), 'a hint below match predates the acknowledgement');
  assert.is(repl.state, 'replicate');
});

test('catching up through a reordering link converges without an append/reject storm', () => {
  const seed = Number(process.env['RAFT_REORDER_SEED'] ?? 7);
  const random = mulberry32(seed);
  const c = new Cluster(['a', 'b', 'c'], { maxMessageBytes: 40, maxInflightMessages: 256, seed });
  c.elect('a');
  c.down.add('c');
  for (let i = 0; i < 400; i++) c.propose('a', `entry-${String(i).padStart(18, '0')}`);
  c.down.delete('c');
  const a = c.raw('a');
  let deliveries = 0;
  // One message at a time, picked at random from everything in flight; each member's Readies
  // are handled right after each delivery (as a driver does), so answers race older messages.
  for (; deliveries < 50_000; deliveries++) {
    for (const n of c.nodes.values()) while (n.raw.hasReady()) c.queue.push(...n.handleReady());
    if (c.node('c').appliedIndex === a.status().lastIndex) break;
    if (c.queue.length === 0 || deliveries % 2000 === 0) {
      c.tick();
      continue;
    }
    const i = Math.floor(random() * c.queue.length);
    const m = c.queue[i] as Message;
    c.queue[i] = c.queue[c.queue.length - 1] as Message;
    c.queue.pop();
    c.deliver(m);
  }
  const replay = `RAFT_REORDER_SEED=${seed} node --import tsx test/raft/reorder.test.ts`;
  assert.is(c.node('c').appliedIndex, a.status().lastIndex, `c did not catch up after ${deliveries} deliveries (${replay})`);
  assert.ok(deliveries < 20_000, `${deliveries} deliveries to catch up 400 entries (${replay})`);
});

test.run();
