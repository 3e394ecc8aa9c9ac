// Proves the proposal-id plumbing on every write's path: the dedupe table evicts strictly by
// insertion order (lookups never refresh an id), round-trips through its snapshot strings
// (`member/incarnation/seq`, oldest first, member ids containing `/` included) and matches a
// plain-array model over a seeded random sequence; envelopes built from a precomputed head decode
// to the same id and command bytes, for many members in turn (the decoder's member-id cache);
// addIfAbsent and frozenKeys (a background snapshot's copy) agree with the same model.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeEnvelope, encodeEnvelope, encodeEnvelopeWith, envelopeHead, parseProposalKey, proposalKey } from '../../src/node/codec.ts';
import { DedupeTable } from '../../src/node/proposals.ts';
import { ProtocolError } from '../../src/errors.ts';

test('evicts the oldest inserted id; has() does not refresh', () => {
  const t = new DedupeTable(3);
  assert.ok(t.addIfAbsent('a', 1, 1));
  assert.ok(t.addIfAbsent('a', 1, 2));
  assert.ok(t.addIfAbsent('b', 7, 1));
  assert.ok(t.has('a', 1, 1));
  assert.ok(t.addIfAbsent('a', 2, 1)); // evicts a/1/1 although it was just looked up
  assert.not.ok(t.has('a', 1, 1));
  assert.ok(t.has('a', 1, 2) && t.has('b', 7, 1) && t.has('a', 2, 1));
  assert.equal(t.keys(), ['a/1/2', 'b/7/1', 'a/2/1']);
  assert.is(t.size, 3);
});

test('snapshot strings round-trip, member ids with slashes included', () => {
  const keys = ['n/1/5/9', 'x/123456789012/1', 'n/1/5/10'];
  assert.equal(parseProposalKey('n/1/5/9'), { member: 'n/1', incarnation: 5, seq: 9 });
  const t = new DedupeTable(10, keys);
  assert.equal(t.keys(), keys);
  assert.ok(t.has('n/1', 5, 9) && t.has('x', 123456789012, 1));
  for (const bad of ['', 'a', 'a/1', '/1/2', 'a//2', 'a/1/', 'a/x/2']) {
    assert.throws(() => parseProposalKey(bad), (e: unknown) => e instanceof ProtocolError, bad);
  }
  // A table restored with more ids than it holds keeps the newest.
  assert.equal(new DedupeTable(2, keys).keys(), keys.slice(1));
});

test('matches an array model over a seeded random sequence (has then addIfAbsent, addIfAbsent alone, frozenKeys)', () => {
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const cap = 50;
  const t = new DedupeTable(cap);
  const model: string[] = [];
  let frozen: { keys: () => string[]; expected: string[] } | undefined;
  for (let i = 0; i < 5_000; i++) {
    const member = i % 2 === 0 ? `m${Math.floor(random() * 4)}` : `m/${Math.floor(random() * 4)}`;
    const id = { member, incarnation: 2 ** 40 + Math.floor(random() * 3), seq: Math.floor(random() * 80) };
    const key = proposalKey(id);
    const fresh = !model.includes(key);
    if (i % 3 === 0) {
      assert.is(t.addIfAbsent(id.member, id.incarnation, id.seq), fresh, `step ${i}`);
    } else {
      assert.is(t.has(id.member, id.incarnation, id.seq), !fresh, `step ${i}`);
      if (fresh) assert.ok(t.addIfAbsent(id.member, id.incarnation, id.seq), `step ${i}`);
    }
    if (fresh) {
      model.push(key);
      if (model.length > cap) model.shift();
    }
    assert.is(t.size, model.length);
    if (i === 1_000) frozen = { keys: t.frozenKeys(), expected: [...model] };
  }
  assert.equal(t.keys(), model);
  assert.equal(frozen?.keys(), frozen?.expected);
  assert.equal(new DedupeTable(cap, t.keys()).keys(), model);
});

test('envelopes from a precomputed head decode to the same id and command', () => {
  for (let m = 0; m < 20; m++) {
    const member = `member-${m}-é`;
    const head = envelopeHead(member, 2 ** 40 - m);
    for (const seq of [1, 2, 2 ** 33]) {
      const command = new Uint8Array([m, seq % 256, 7]);
      const bytes = encodeEnvelopeWith(head, seq, command);
      assert.equal(bytes, encodeEnvelope({ id: { member, incarnation: 2 ** 40 - m, seq }, command }));
      const env = decodeEnvelope(bytes);
      assert.equal(env.id, { member, incarnation: 2 ** 40 - m, seq });
      assert.equal([...env.command], [...command]);
    }
  }
  const bad = encodeEnvelope({ id: { member: 'ab', incarnation: 1, seq: 1 }, command: new Uint8Array(1) });
  bad[2] = 0xff; // invalid UTF-8 in the member id
  assert.throws(() => decodeEnvelope(bad), (e: unknown) => e instanceof ProtocolError);
});

test.run();
