// Proves the small building blocks in isolation: the in-flight ring buffer (bounded by count and
// bytes, wrap-around, freeing by index), majority arithmetic (commit index and vote tally), the
// unstable tail's truncation rules and the raft log's conflict search used for fast back-off.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Inflights } from '../../src/raft/inflights.ts';
import { committedIndex, quorumSize, voteResult } from '../../src/raft/quorum.ts';
import { RaftLog } from '../../src/raft/log.ts';
import { storageWithLog } from './harness.ts';
import type { Entry } from '../../src/protocol/types.ts';

test('inflights: full by count, full by bytes, wrap-around and freeLE', () => {
  const f = new Inflights(3, 1000);
  f.add(1, 10);
  f.add(2, 10);
  f.add(3, 10);
  assert.ok(f.full());
  f.freeLE(2);
  assert.is(f.count, 1);
  assert.is(f.bytes, 10);
  f.add(4, 10);
  f.add(5, 10); // wraps around the ring
  assert.ok(f.full());
  f.freeLE(4);
  assert.is(f.count, 1);
  f.freeFirstOne();
  assert.is(f.count, 0);
  const b = new Inflights(100, 25);
  b.add(1, 10);
  b.add(2, 10);
  assert.not.ok(b.full());
  b.add(3, 10);
  assert.ok(b.full(), 'bytes 30 >= 25');
  assert.throws(() => b.add(4, 1), /full window/);
  b.freeLE(1);
  assert.not.ok(b.full());
});

test('quorum: commit index is the quorum-th highest match; vote tally', () => {
  const scratch: number[] = [];
  const m: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 7 };
  assert.is(committedIndex(['a', 'b', 'c', 'd', 'e'], (id) => m[id] ?? 0, scratch), 5);
  assert.is(committedIndex(['a', 'b', 'c'], (id) => m[id] ?? 0, scratch), 5);
  assert.is(committedIndex(['c'], (id) => m[id] ?? 0, scratch), 9);
  assert.is(quorumSize(4), 3);
  const votes = new Map<string, boolean>([['a', true], ['b', false]]);
  assert.is(voteResult(['a', 'b', 'c'], votes), 'pending');
  votes.set('c', true);
  assert.is(voteResult(['a', 'b', 'c'], votes), 'won');
  assert.is(voteResult(['a', 'b', 'c', 'd'], new Map([['b', false], ['c', false]])), 'lost');
});

test('log: findConflictByTerm skips a term per step; maybeAppend truncates a conflicting tail', () => {
  const s = storageWithLog({ voters: ['a'], learners: [] }, [1, 1, 2, 2, 2, 4, 4]);
  const log = new RaftLog(s, 0, 0);
  assert.is(log.findConflictByTerm(7, 3), 5);
  assert.is(log.findConflictByTerm(7, 1), 2);
  assert.is(log.findConflictByTerm(3, 5), 3);
  const ents: Entry[] = [
    { term: 5, index: 4, type: 'normal', data: new Uint8Array(0) },
    { term: 5, index: 5, type: 'normal', data: new Uint8Array(0) },
  ];
  assert.is(log.maybeAppend(3, 2, 4, ents), 5);
  assert.is(log.lastIndex(), 5);
  assert.is(log.term(4), 5);
  assert.is(log.term(3), 2);
  assert.is(log.committed, 4);
  assert.is(log.maybeAppend(5, 4, 5, []), -1, 'mismatch at 5');
  // §5.4.1 ordering on the log.
  assert.ok(log.isUpToDate(1, 6));
  assert.not.ok(log.isUpToDate(100, 4));
  assert.ok(log.isUpToDate(5, 5));
  assert.not.ok(log.isUpToDate(4, 5));
});

test.run();
