// The driver's outbox (src/node/outbox.ts): commit notices (appends without entries) of a Ready
// with nothing to persist wait for the end of the event-loop turn or the next send, never
// overtake later messages to the same peer, and never delay anything else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isCommitNotice, Outbox } from '../../src/node/outbox.ts';
import type { Entry, Message, MessageType, NodeId, PeerMessage } from '../../src/protocol/types.ts';
import type { Transport } from '../../src/transport/types.ts';

const ENTRY: Entry = { index: 5, term: 1, type: 'normal', data: new Uint8Array([1]) };

function msg(type: MessageType, to: NodeId, commit: number, entries: readonly Entry[] = []): Message {
  return { type, from: 'a', to, term: 1, logTerm: 1, index: 4, entries, commit, reject: false, rejectHint: 0 };
}

function recorder(): { transport: Transport; sent: { to: NodeId; batch: readonly PeerMessage[] }[] } {
  const sent: { to: NodeId; batch: readonly PeerMessage[] }[] = [];
  const transport: Transport = {
    start: () => Promise.resolve(),
    send: (to, batch) => void sent.push({ to, batch }),
    addPeer: () => {},
    removePeer: () => {},
    stop: () => Promise.resolve(),
  };
  return { transport, sent };
}

const fail = (err: unknown): never => {
  throw err;
};
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const commits = (batch: readonly PeerMessage[]): number[] => batch.map((m) => (m.type === 'app' ? -1 : m.commit));

test('only an append without entries is a commit notice', () => {
  assert.ok(isCommitNotice(msg('append', 'b', 3)));
  assert.not.ok(isCommitNotice(msg('append', 'b', 3, [ENTRY])));
  assert.not.ok(isCommitNotice(msg('heartbeat', 'b', 3)));
  assert.not.ok(isCommitNotice(msg('appendResponse', 'b', 3)));
});

test('a held notice leaves at the end of the turn when nothing else is sent', async () => {
  const { transport, sent } = recorder();
  const box = new Outbox('a', transport, () => assert.unreachable('nothing to self'), fail);
  box.sendHoldingNotices([msg('append', 'b', 7), msg('append', 'c', 7)]);
  await Promise.resolve();
  assert.is(sent.length, 0, 'held through microtasks (writers answered first)');
  await turn();
  assert.equal(
    sent.map((s) => [s.to, commits(s.batch)]),
    [
      ['b', [7]],
      ['c', [7]],
    ],
  );
});

test('a held notice goes out in the same call as the next message to its peer, ahead of it', async () => {
  const { transport, sent } = recorder();
  const box = new Outbox('a', transport, () => {}, fail);
  box.sendHoldingNotices([msg('append', 'b', 7)]);
  assert.is(box.send([msg('append', 'b', 8, [ENTRY])]), true);
  assert.is(sent.length, 1, 'one transport call → one frame');
  assert.equal(commits(sent[0]!.batch), [7, 8], 'older notice first');
  await turn();
  assert.is(sent.length, 1, 'nothing sent twice');
});

test('everything but notices leaves at once; a notice to a peer that gets more now goes with it', () => {
  const { transport, sent } = recorder();
  const self: Message[] = [];
  const box = new Outbox('a', transport, (m) => self.push(m), fail);
  box.sendHoldingNotices([
    msg('heartbeat', 'b', 3),
    msg('append', 'c', 3),
    msg('append', 'c', 4, [ENTRY]),
    msg('append', 'd', 3),
    msg('appendResponse', 'a', 0),
  ]);
  assert.equal(
    sent.map((s) => [s.to, s.batch.length]),
    [
      ['b', 1],
      ['c', 2],
    ],
    'd waits; c gets both in order',
  );
  assert.is(self.length, 1, 'a message to itself goes to its inbox');
});

test('close sends what is held, then nothing more', async () => {
  const { transport, sent } = recorder();
  const box = new Outbox('a', transport, () => {}, fail);
  box.sendHoldingNotices([msg('append', 'b', 7)]);
  box.close();
  assert.equal(
    sent.map((s) => [s.to, commits(s.batch)]),
    [['b', [7]]],
    'a held notice may be the only news of a commit (e.g. the leader removed itself)',
  );
  await turn();
  assert.is(sent.length, 1, 'not sent twice');
  assert.is(box.send([msg('heartbeat', 'b', 1)]), false);
  assert.is(sent.length, 1);
});

test('a transport that throws while held notices are released reaches onError, not the host', async () => {
  const errors: unknown[] = [];
  const boom = new Error('boom');
  const transport: Transport = { ...recorder().transport, send: () => { throw boom; } };
  const box = new Outbox('a', transport, () => {}, (e) => errors.push(e));
  box.sendHoldingNotices([msg('append', 'b', 7)]);
  await turn();
  assert.equal(errors, [boom]);
});

test.run();
