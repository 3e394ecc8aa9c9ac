// Proves fileStorage's behaviour through its public contract on a real directory: saves are
// visible only once durable and survive reopen; the WAL rotates into new segments; recovery
// replays them; a conflicting suffix overwrite survives restart; snapshots move firstIndex,
// compaction deletes whole segments and old snapshot files; concurrent saves are serialized in
// call order; limits and bad arguments reject with typed errors (a save rewriting the log under
// a made snapshot among them, which replay would refuse); a segment resumed with a larger
// segmentBytes is never grown (a torn growing write would read as corruption); an fsync error
// fails the storage for good (fail-stop); a damaged retained older snapshot is found after open
// and renamed `.broken` while the member keeps running; an idle writer zero-fills a runway ahead
// of the live segment's tail (st_blocks grows), and records written around it all replay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs, { readdirSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { fileStorage } from '../../src/storage/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import { InvalidArgumentError, RequestTooLargeError, StoppedError, StorageError } from '../../src/errors.ts';
import { LogCompactedError, LogUnavailableError } from '../../src/raft/types.ts';
import { entries, entry, quietLogger, rejects, removeDir, sameBytes, tempDir } from './helpers.ts';

const dirs: string[] = [];
function dir(): string {
  const d = tempDir('fs');
  dirs.push(d);
  return d;
}
test.after(() => dirs.forEach(removeDir));

async function open(d: string, segmentBytes = 4096, extra: { keepSnapshots?: number; maxRecordBytes?: number } = {}): Promise<Storage> {
  const s = fileStorage(d, { segmentBytes, logger: quietLogger(), ...extra });
  await s.open();
  return s;
}

async function until(cond: () => boolean, what: string, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function segments(d: string): string[] {
  return readdirSync(d).filter((n) => n.endsWith('.wal'));
}

function assertLog(s: Storage, from: number, to: number, termOf: (i: number) => number): void {
  assert.is(s.lastIndex(), to);
  const got = s.entries(from, to + 1, Number.MAX_SAFE_INTEGER);
  assert.is(got.length, to - from + 1);
  for (const e of got) {
    const want = entry(e.index, termOf(e.index));
    assert.ok(e.term === want.term && e.type === want.type && sameBytes(e.data, want.data), `entry ${e.index}`);
  }
}

test('empty storage: initial state, bounds and errors', async () => {
  const s = await open(dir());
  assert.equal(s.initialState(), { hardState: { term: 0, vote: '', commit: 0 }, confState: { voters: [], learners: [] } });
  assert.is(s.firstIndex(), 1);
  assert.is(s.lastIndex(), 0);
  assert.is(s.term(0), 0);
  assert.is(s.snapshot().meta.index, 0);
  assert.throws(() => s.term(1), (e: unknown) => e instanceof LogUnavailableError);
  assert.equal(s.entries(1, 1, 100), []);
  await s.close();
  await s.close();
  await rejects(s.save({ entries: [] }), (e: unknown) => e instanceof StoppedError);
});

test('saves survive reopen; segments rotate; entries respect maxBytes', async () => {
  const d = dir();
  let s = await open(d);
  for (let i = 1; i <= 300; i += 3) await s.save({ entries: entries(i, 3, 1), hardState: { term: 1, vote: 'n1', commit: i } });
  assert.ok(segments(d).length > 5, `rotated into ${segments(d).length} segments`);
  for (const n of segments(d).slice(0, -1)) assert.ok(statSync(join(d, n)).size <= 4096, 'closed segments are trimmed');
  assertLog(s, 1, 300, () => 1);
  const limited = s.entries(1, 301, 500);
  assert.ok(limited.length >= 1 && limited.length < 300);
  assert.is(s.entries(1, 301, 0).length, 1, 'always at least one entry');
  await s.close();
  s = await open(d);
  assertLog(s, 1, 300, () => 1);
  assert.equal(s.initialState().hardState, { term: 1, vote: 'n1', commit: 298 });
  await s.save({ entries: entries(301, 2, 2) });
  await s.close();
  s = await open(d, 1 << 20);
  assertLog(s, 1, 302, (i) => (i > 300 ? 2 : 1));
  await s.close();
});

test('an idle writer fills the live segment with zeros ahead of its tail; records around the runway all replay', async () => {
  // A preallocated (ftruncated) segment is a hole; the writer zero-fills a runway ahead of the
  // tail when idle, so appends overwrite allocated zeros (no journal commit per new block).
  const d = dir();
  const segmentBytes = 4 << 20;
  let s = await open(d, segmentBytes);
  await s.save({ entries: entries(1, 1, 1) });
  const live = (): string => join(d, segments(d).sort().at(-1) as string);
  const allocated = (): number => statSync(live()).blocks * 512;
  await until(() => allocated() >= 1 << 20, 'a 1 MiB zero-filled runway after one idle save');
  assert.is(statSync(live()).size, segmentBytes, 'the file size is the preallocated size, unchanged');
  // Saves of every size, some crossing the filled frontier, with idle gaps between some of them.
  let next = 2;
  for (let round = 0; round < 40; round++) {
    const n = 1 + ((round * 37) % 90);
    const saves = [s.save({ entries: entries(next, n, 1), hardState: { term: 1, vote: 'n1', commit: next } })];
    next += n;
    if (round % 3 === 0) {
      saves.push(s.save({ entries: entries(next, 5, 1) }));
      next += 5;
    }
    await Promise.all(saves);
    if (round % 5 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  assertLog(s, 1, next - 1, () => 1);
  await s.close();
  s = await open(d, segmentBytes);
  assertLog(s, 1, next - 1, () => 1);
  await s.close();
});

test('conflicting suffix overwrite replaces the tail and survives restart', async () => {
  const d = dir();
  let s = await open(d);
  await s.save({ entries: entries(1, 50, 1) });
  await s.save({ entries: entries(41, 3, 2) }); // overwrite 41..50 with 41..43 of term 2
  assert.is(s.lastIndex(), 43);
  assert.is(s.term(42), 2);
  await s.save({ entries: entries(44, 20, 2) });
  await s.save({ entries: entries(60, 2, 3) }); // overwrite again across a rotation
  const term = (i: number): number => (i >= 60 ? 3 : i > 40 ? 2 : 1);
  assertLog(s, 1, 61, term);
  await s.close();
  s = await open(d);
  assertLog(s, 1, 61, term);
  await s.close();
});

test('concurrent saves are serialized in call order and all resolve after durability', async () => {
  const d = dir();
  let s = await open(d, 1 << 20);
  const order: number[] = [];
  const ps: Promise<void>[] = [];
  for (let i = 1; i <= 200; i++) ps.push(s.save({ entries: [entry(i, 1)], hardState: { term: 1, vote: '', commit: i } }).then(() => void order.push(i)));
  ps.push(s.save({ entries: entries(150, 5, 2) }));
  await Promise.all(ps);
  assert.equal(order, Array.from({ length: 200 }, (_, i) => i + 1));
  assertLog(s, 1, 154, (i) => (i >= 150 ? 2 : 1));
  await s.close();
  s = await open(d, 1 << 20);
  assertLog(s, 1, 154, (i) => (i >= 150 ? 2 : 1));
  assert.is(s.initialState().hardState.commit, 200);
  await s.close();
});

test('snapshot + compaction: compact() moves firstIndex (entries behind a snapshot stay until then), whole segments and old snapshots are deleted, restart recovers', async () => {
  const d = dir();
  let s = await open(d, 4096, { keepSnapshots: 2 });
  for (let i = 1; i <= 400; i += 4) await s.save({ entries: entries(i, 4, 1), hardState: { term: 1, vote: '', commit: i + 3 } });
  const before = segments(d).length;
  const data = Buffer.from('application state at 100');
  const snap = await s.createSnapshot(100, { voters: ['n1', 'n2'], learners: ['n3'] }, data);
  assert.equal(snap.meta, { index: 100, term: 1, confState: { voters: ['n1', 'n2'], learners: ['n3'] } });
  // The entries behind the snapshot stay readable (a catch-up window for slow followers) until compact().
  assert.is(s.firstIndex(), 1);
  assert.is(s.term(99), 1);
  assert.is(s.entries(100, 101, 10).length, 1);
  await s.compact(60);
  assert.is(s.firstIndex(), 60);
  assert.throws(() => s.term(58), (e: unknown) => e instanceof LogCompactedError);
  assert.is(s.term(59), 1);
  await s.compact(101);
  assert.is(s.firstIndex(), 101);
  assert.throws(() => s.entries(100, 101, 10), (e: unknown) => e instanceof LogCompactedError);
  assert.is(s.term(100), 1);
  assert.ok(segments(d).length < before, 'segments below the compaction point are deleted');
  await s.createSnapshot(200, { voters: ['n1'], learners: [] }, Buffer.from('s200'));
  await s.createSnapshot(300, { voters: ['n1'], learners: [] }, Buffer.from('s300'));
  await s.compact(250);
  await new Promise((r) => setTimeout(r, 20));
  const snaps = readdirSync(d).filter((n) => n.endsWith('.snap'));
  assert.is(snaps.length, 2, `kept ${snaps.join(',')}`);
  await rejects(s.createSnapshot(250, { voters: [], learners: [] }, data), (e: unknown) => e instanceof InvalidArgumentError);
  await rejects(s.compact(302), (e: unknown) => e instanceof InvalidArgumentError);
  await s.close();
  s = await open(d);
  assert.is(s.firstIndex(), 301);
  assert.equal(s.initialState().confState, { voters: ['n1'], learners: [] });
  assert.is(s.snapshot().data.length, 0, 'the bytes stay on disk');
  assert.ok(sameBytes((await s.loadSnapshot!()).data, Buffer.from('s300')), 'handed over from open');
  assert.ok(sameBytes((await s.loadSnapshot!()).data, Buffer.from('s300')), 'read again from the file');
  assertLog(s, 301, 400, () => 1);
  await s.close();
});

test('a received snapshot replaces the log and survives restart', async () => {
  const d = dir();
  let s = await open(d);
  await s.save({ entries: entries(1, 30, 1), hardState: { term: 1, vote: '', commit: 20 } });
  const incoming = { meta: { index: 500, term: 7, confState: { voters: ['a', 'b', 'c'], learners: [] } }, data: Buffer.alloc(10_000, 9) };
  await s.save({ snapshot: incoming, entries: entries(501, 3, 7), hardState: { term: 7, vote: 'a', commit: 500 } });
  assert.is(s.firstIndex(), 501);
  assert.is(s.term(500), 7);
  assertLog(s, 501, 503, () => 7);
  await s.close();
  s = await open(d);
  assert.is(s.firstIndex(), 501);
  assert.ok(sameBytes((await s.loadSnapshot!()).data, incoming.data));
  assert.equal(s.initialState(), { hardState: { term: 7, vote: 'a', commit: 500 }, confState: { voters: ['a', 'b', 'c'], learners: [] } });
  assertLog(s, 501, 503, () => 7);
  await s.close();
});

test('a save touching the log at or below a made snapshot is rejected, so the WAL stays replayable', async () => {
  // Replay applies the snapshot marker before later records and refuses one that rewrites the
  // log under it; such a save used to be written anyway, and the next open() failed.
  const d = dir();
  let s = await open(d);
  await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: '', commit: 10 } });
  await s.createSnapshot(8, { voters: ['a'], learners: [] }, Buffer.from('s8'));
  await rejects(s.save({ entries: entries(5, 2, 2) }), (e: unknown) => e instanceof InvalidArgumentError, 'overwrite under the snapshot');
  const received = { meta: { index: 7, term: 2, confState: { voters: ['a'], learners: [] } }, data: Buffer.from('r7') };
  await rejects(s.save({ snapshot: received, entries: [] }), (e: unknown) => e instanceof InvalidArgumentError, 'older received snapshot');
  await s.save({ entries: entries(9, 3, 2) }); // an overwrite above the snapshot is still fine
  await s.close();
  s = await open(d);
  assertLog(s, 9, 11, () => 2);
  assert.is(s.snapshot().meta.index, 8);
  await s.close();
});

test('reopened with a larger segmentBytes, the live segment is not grown past its preallocated size', async () => {
  // A write growing a file could be torn into a record that runs past the end of the file, which
  // recovery treats as corruption: so no write grows a file, a resumed segment keeps its own size
  // and a record that does not fit starts a new segment.
  const d = dir();
  let s = await open(d, 4096);
  await s.save({ entries: entries(1, 5, 1) });
  await s.close();
  s = await open(d, 1 << 20);
  for (let i = 6; i <= 60; i += 5) await s.save({ entries: entries(i, 5, 1) });
  const first = segments(d)[0] as string;
  assert.ok(segments(d).length >= 2, 'a new segment was cut');
  assert.ok(statSync(join(d, first)).size <= 4096, `the resumed segment is ${statSync(join(d, first)).size} bytes`);
  await s.close();
  s = await open(d, 1 << 20);
  assertLog(s, 1, 60, () => 1);
  await s.close();
});

test('bad arguments and limits reject with typed errors and leave the storage usable', async () => {
  const s = await open(dir(), 4096, { maxRecordBytes: 2048 });
  await s.save({ entries: entries(1, 3, 1) });
  await rejects(s.save({ entries: [entry(5, 1)] }), (e: unknown) => e instanceof InvalidArgumentError, 'gap');
  await rejects(s.save({ entries: [entry(4, 1), entry(6, 1)] }), (e: unknown) => e instanceof InvalidArgumentError, 'not contiguous');
  await rejects(s.save({ entries: [entry(4, 1, 4000)] }), (e: unknown) => e instanceof RequestTooLargeError, 'too large');
  await rejects(s.createSnapshot(2, { voters: [], learners: [] }, new Uint8Array()), (e: unknown) => e instanceof InvalidArgumentError, 'past commit');
  await s.save({ entries: [entry(4, 1)] });
  assert.is(s.lastIndex(), 4);
  assert.throws(() => fileStorage(dir(), { segmentBytes: 10 }), (e: unknown) => e instanceof RangeError);
  assert.throws(() => fileStorage(dir(), { keepSnapshots: 0 }), (e: unknown) => e instanceof RangeError);
  await s.close();
});

test('a failed durable write fails the storage: that save and every later call reject with StorageError', async () => {
  const s = await open(dir());
  await s.save({ entries: entries(1, 2, 1) });
  // The live segment is written with O_DSYNC where the platform has it (the write reports the
  // sync's failure), else written then fdatasync'ed: fail both calls.
  const realSync = fs.fdatasync;
  const realWrite = fs.write;
  const eio = (): NodeJS.ErrnoException => Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
  fs.fdatasync = ((_fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => cb(eio())) as typeof fs.fdatasync;
  fs.write = ((...args: unknown[]) => (args[args.length - 1] as (err: NodeJS.ErrnoException | null) => void)(eio())) as unknown as typeof fs.write;
  syncBuiltinESMExports();
  try {
    await rejects(s.save({ entries: [entry(3, 1)] }), (e: unknown) => e instanceof StorageError);
  } finally {
    fs.fdatasync = realSync;
    fs.write = realWrite;
    syncBuiltinESMExports();
  }
  await rejects(s.save({ entries: [entry(3, 1)] }), (e: unknown) => e instanceof StorageError);
  await rejects(s.compact(1), (e: unknown) => e instanceof StorageError);
  assert.throws(() => s.lastIndex(), (e: unknown) => e instanceof StorageError);
  await s.close();
});

test('close() during an open() that is still replaying waits for it, then closes: the directory can be opened again', async () => {
  const d = dir();
  let s = await open(d, 1 << 20);
  for (let i = 1; i <= 2_000; i += 10) await s.save({ entries: entries(i, 10, 1), hardState: { term: 1, vote: '', commit: i + 9 } });
  await s.close();
  s = fileStorage(d, { segmentBytes: 1 << 20, logger: quietLogger() });
  const opening = s.open();
  const closing = s.close();
  await opening;
  await closing;
  assert.throws(() => s.lastIndex(), (e: unknown) => e instanceof StoppedError);
  // The lock was released: a second storage opens the same directory and sees the whole log.
  const again = await open(d, 1 << 20);
  assert.is(again.lastIndex(), 2_000);
  await again.close();
});

test('stray temp files from a crash are removed on open', async () => {
  const d = dir();
  let s = await open(d);
  await s.save({ entries: entries(1, 5, 1) });
  await s.close();
  writeFileSync(join(d, 'wal.tmp'), 'partial');
  writeFileSync(join(d, '0000000000000009-0000000000000001.snap.tmp'), 'partial');
  s = await open(d);
  assert.is(s.lastIndex(), 5);
  assert.not.ok(readdirSync(d).some((n) => n.endsWith('.tmp')));
  await s.close();
});

test('a damaged retained older snapshot is found in the background after open and renamed .broken', async () => {
  const d = dir();
  let s = await open(d, 4096, { keepSnapshots: 3 });
  await s.save({ entries: entries(1, 30, 1), hardState: { term: 1, vote: 'n1', commit: 30 } });
  for (const i of [10, 20, 30]) await s.createSnapshot(i, { voters: ['n1'], learners: [] }, Buffer.alloc(5000, i));
  await s.close();
  const snaps = readdirSync(d).filter((n) => n.endsWith('.snap')).sort();
  assert.is(snaps.length, 3);
  const damaged = join(d, snaps[0] as string);
  const bytes = fs.readFileSync(damaged);
  bytes[2000] = (bytes[2000] as number) ^ 1;
  writeFileSync(damaged, bytes);
  const logger = quietLogger();
  s = fileStorage(d, { segmentBytes: 4096, keepSnapshots: 3, logger });
  await s.open();
  assert.is(s.snapshot().meta.index, 30, 'the member opens and serves');
  for (let waited = 0; !fs.existsSync(`${damaged}.broken`) && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  assert.ok(fs.existsSync(`${damaged}.broken`), 'renamed');
  assert.ok(fs.existsSync(join(d, snaps[1] as string)), 'the intact older snapshot is kept');
  assert.ok(logger.warnings.some((w) => w.includes('damaged')));
  await s.save({ entries: entries(31, 1, 1) });
  await s.close();
});

test.run();
