// Proves the proposal path's limits and errors, and the core's defensive input handling: each
// refusal throws ProposalDroppedError (no leader, forwarding disabled, transfer, entry over
// maxMessageBytes, uncommitted bytes over maxUncommittedBytes); invalid and misaddressed
// messages are dropped without throwing (removed members: see confchange.test.ts); the config
// is validated eagerly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, MemStorage, msg, mulberry32 } from './harness.ts';
import { RawNode } from '../../src/raft/raw-node.ts';
import { ProposalDroppedError } from '../../src/errors.ts';
import type { Message } from '../../src/protocol/types.ts';

const dropped = (e: unknown): boolean => e instanceof ProposalDroppedError && e.code === 'PROPOSAL_DROPPED';

test('no leader: proposals are dropped', () => {
  const c = new Cluster(['a', 'b', 'c']);
  assert.throws(() => c.raw('a').propose(new Uint8Array(1)), dropped);
});

test('forwarding disabled: a follower drops proposals', () => {
  const c = new Cluster(['a', 'b', 'c'], { disableProposalForwarding: true });
  c.elect('a');
  assert.throws(() => c.raw('b').propose(new Uint8Array(1)), /forwarding is disabled/);
});

test('an entry larger than maxMessageBytes is dropped', () => {
  const c = new Cluster(['a', 'b', 'c'], { maxMessageBytes: 100 });
  c.elect('a');
  assert.throws(() => c.raw('a').propose(new Uint8Array(101)), /maxMessageBytes/);
  assert.throws(() => c.raw('b').propose(new Uint8Array(101)), /maxMessageBytes/);
  c.raw('a').propose(new Uint8Array(100));
});

test('uncommitted bytes are bounded; they are released as entries apply', () => {
  const c = new Cluster(['a', 'b', 'c'], { maxUncommittedBytes: 1000 });
  c.elect('a');
  c.down.add('b');
  c.down.add('c');
  for (let i = 0; i < 10; i++) c.raw('a').propose(new Uint8Array(100));
  assert.throws(() => c.raw('a').propose(new Uint8Array(1)), /maxUncommittedBytes/);
  c.down.clear();
  c.run(2);
  c.raw('a').propose(new Uint8Array(100));
});

test('invalid and misaddressed messages are dropped, never thrown', () => {
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (_: object, m: string) => void warnings.push(m) };
  const n = new RawNode({ id: 'a', storage: new MemStorage({ voters: ['a', 'b', 'c'], learners: [] }), random: mulberry32(1), logger });
  const bad: unknown[] = [
    null,
    { type: 'nope', from: 'b', to: 'a', term: 1 },
    msg({ type: 'append', from: 'b', to: 'a', term: -1 }),
    msg({ type: 'append', from: 'b', to: 'a', term: 1, index: 0, entries: [{ term: 1, index: 5, type: 'normal', data: new Uint8Array(0) }] }),
    msg({ type: 'snapshot', from: 'b', to: 'a', term: 1 }),
    msg({ type: 'heartbeat', from: 'b', to: 'zz', term: 5 }),
    { ...msg({ type: 'heartbeat', from: 'b', to: 'a', term: 5 }), entries: 'x' },
  ];
  for (const m of bad) n.step(m as Message);
  assert.is(n.status().term, 0, 'nothing moved the term');
  assert.ok(warnings.length >= 6, `${warnings.length} warnings`);
});

test('config is validated eagerly with a RangeError naming the field', () => {
  const storage = new MemStorage();
  const random = mulberry32(1);
  assert.throws(() => new RawNode({ id: 'a', storage, random, electionTicks: 2, heartbeatTicks: 2 }), /electionTicks must be greater than heartbeatTicks/);
  assert.throws(() => new RawNode({ id: 'a', storage, random, maxInflightMessages: 0 }), /maxInflightMessages/);
  assert.throws(() => new RawNode({ id: '', storage, random }), /id/);
});

test.run();
