// Proves memoryStorage keeps the Storage contract (same reads, overwrite, snapshots, compaction,
// typed errors, saves under a made snapshot rejected, entries under a durable snapshot freed
// from memory without compact()) and models power loss: crash() keeps exactly the synced (resolved) writes, may
// keep a prefix of the oldest unsynced save's entries but never its hard state, and stops the
// old instance. Seeded where random.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError, StoppedError } from '../../src/errors.ts';
import { LogCompactedError, LogUnavailableError } from '../../src/raft/types.ts';
import { memoryStorage } from '../../src/storage/index.ts';
import { LogState } from '../../src/storage/log-state.ts';
import { entries, entry, prng, rejects, sameBytes } from './helpers.ts';

test('reads, overwrite, snapshot and compaction follow the contract', async () => {
  const s = memoryStorage();
  await s.open();
  assert.is(s.lastIndex(), 0);
  await s.save({ entries: entries(1, 20, 1), hardState: { term: 1, vote: 'a', commit: 15 } });
  await s.save({ entries: entries(18, 2, 2) });
  assert.is(s.lastIndex(), 19);
  assert.is(s.term(18), 2);
  assert.throws(() => s.term(20), (e: unknown) => e instanceof LogUnavailableError);
  const snap = await s.createSnapshot(10, { voters: ['a'], learners: [] }, Buffer.from('x'));
  assert.is(snap.meta.term, 1);
  assert.is(s.firstIndex(), 1, 'entries behind a made snapshot stay until compact()');
  assert.is(s.entries(10, 12, 1e9).length, 2);
  await s.compact(11);
  assert.is(s.firstIndex(), 11);
  assert.throws(() => s.entries(10, 12, 100), (e: unknown) => e instanceof LogCompactedError);
  assert.is(s.entries(11, 20, 1e9).length, 9);
  await rejects(s.compact(12), (e) => e instanceof InvalidArgumentError);
  await rejects(s.save({ entries: [entry(30, 2)] }), (e) => e instanceof InvalidArgumentError);
  await s.save({ snapshot: { meta: { index: 100, term: 5, confState: { voters: ['a', 'b'], learners: [] } }, data: Buffer.from('y') }, entries: [] });
  assert.is(s.firstIndex(), 101);
  assert.is(s.lastIndex(), 100);
  assert.equal(s.initialState().confState, { voters: ['a', 'b'], learners: [] });
  await s.close();
  assert.throws(() => s.lastIndex(), (e: unknown) => e instanceof StoppedError);
});

test('a save touching the log at or below a made snapshot is rejected with InvalidArgumentError', async () => {
  const s = memoryStorage();
  await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: '', commit: 10 } });
  const made = s.createSnapshot(8, { voters: ['a'], learners: [] }, Buffer.from('s8'));
  // Checked at once, even before the snapshot is synced (saves are applied in call order).
  await rejects(s.save({ entries: entries(5, 2, 2) }), (e) => e instanceof InvalidArgumentError);
  await made;
  await s.compact(9);
  await rejects(s.save({ entries: entries(8, 2, 2) }), (e) => e instanceof InvalidArgumentError);
  await s.save({ entries: entries(9, 2, 2) });
  assert.is(s.lastIndex(), 10);
  assert.is(s.term(9), 2);
});

test('a made snapshot keeps the entries it covers until compact(); a reopen keeps only those after it', async () => {
  // The driver compacts to a bounded catch-up window behind each snapshot, so a slightly
  // lagging follower gets entries instead of the whole store; nothing below firstIndex is read.
  const state = new LogState();
  state.append(entries(1, 1000, 1));
  state.setHardState({ term: 1, vote: '', commit: 1000 });
  state.setSnapshot({ meta: { index: 900, term: 1, confState: { voters: ['a'], learners: [] } }, data: new Uint8Array() });
  assert.is(state.firstIndex(), 1);
  assert.is(state.term(899), 1);
  state.compact(850);
  assert.is(state.offset, 850);
  assert.is(state.firstIndex(), 850);
  assert.is(state.term(849), 1, 'the term just below the compaction point is kept');
  assert.throws(() => state.term(848), (e: unknown) => e instanceof LogCompactedError);
  assert.is(state.entries(850, 1001, 1e9).length, 151);
  state.trimToSnapshot();
  assert.is(state.firstIndex(), 901);
  assert.is(state.term(900), 1);
  const s = memoryStorage();
  await s.save({ entries: entries(1, 50, 1), hardState: { term: 1, vote: '', commit: 50 } });
  await s.createSnapshot(40, { voters: ['a'], learners: [] }, Buffer.from('s'));
  await s.compact(30);
  assert.is(s.firstIndex(), 30);
  assert.is(s.entries(30, 51, 1e9).length, 21);
  await s.save({ entries: entries(51, 1, 2) });
  assert.is(s.term(51), 2);
  const reopened = s.crash();
  assert.is(reopened.firstIndex(), 41);
  assert.is(reopened.term(40), 1);
});

test('crash keeps synced writes only; unsynced saves of the old instance reject', async () => {
  const s = memoryStorage();
  await s.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: '', commit: 5 } });
  const pending = s.save({ entries: entries(6, 5, 1), hardState: { term: 2, vote: 'b', commit: 9 } });
  const later = s.save({ entries: entries(11, 5, 1) });
  const r = s.crash(() => 0); // tear nothing
  await rejects(pending, (e) => e instanceof StoppedError);
  await rejects(later, (e) => e instanceof StoppedError);
  await r.open();
  assert.is(r.lastIndex(), 5);
  assert.equal(r.initialState().hardState, { term: 1, vote: '', commit: 5 });
  await rejects(s.save({ entries: [] }), (e) => e instanceof StoppedError);
});

test('a torn crash keeps a prefix of the oldest unsynced save, never its hard state (seeded)', async () => {
  const rnd = prng(42);
  const seen = new Set<number>();
  for (let t = 0; t < 200; t++) {
    const s = memoryStorage();
    await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: '', commit: 3 } });
    const p = s.save({ entries: entries(8, 6, 2), hardState: { term: 2, vote: 'x', commit: 9 } }); // overwrites 8..10
    p.catch(() => undefined);
    const r = s.crash(rnd);
    const last = r.lastIndex();
    seen.add(last);
    assert.equal(r.initialState().hardState, { term: 1, vote: '', commit: 3 });
    for (const e of r.entries(1, last + 1, 1e9)) {
      assert.ok(sameBytes(e.data, entry(e.index, e.term).data), `entry ${e.index} content`);
      if (e.index < 8) assert.is(e.term, 1);
      else if (last !== 10) assert.is(e.term, 2, `a torn save keeps only new entries (last ${last})`);
    }
  }
  assert.ok(seen.has(10) && seen.size > 2, `tears vary: ${[...seen].join(',')}`);
});

test('crash after a clean sequence keeps everything; crash is repeatable', async () => {
  let s = memoryStorage();
  for (let i = 1; i <= 50; i++) {
    await s.save({ entries: [entry(i, 1)], hardState: { term: 1, vote: '', commit: i } });
    if (i % 10 === 0) {
      s = s.crash();
      await s.open();
      assert.is(s.lastIndex(), i);
    }
  }
});

test.run();
