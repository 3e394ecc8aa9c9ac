// Proves that the torn-tail rule of WAL recovery cannot be fooled by bit flips: a live segment
// holding two batch records A and B is damaged by hand in the ways that fooled (or could fool)
// the format-1 rules — A's length flipped past the end of the file, to 0, or over B into the
// zeroed space, each with B also damaged so that no valid record follows A (the shape of
// `SEED=2991405555` corruption.test.ts trial 657) — and every such state must be a
// CorruptionError, never a cut of acknowledged entries. Controls: the states a real torn write of
// B leaves (its first sector unwritten, or a later sector of it unwritten) are cut back to A, and
// appends continue after the cut.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptionError } from '../../src/errors.ts';
import { fileStorage } from '../../src/storage/index.ts';
import { FRAME_HEADER_BYTES, readFrame, SECTOR_BYTES } from '../../src/storage/record-codec.ts';
import type { Storage } from '../../src/storage/types.ts';
import { entry, quietLogger, rejects, removeDir, tempDir } from './helpers.ts';

const SEGMENT_BYTES = 16 * 1024;
const SEGMENT = '0000000000000000.wal';
const BASE = existsSync('/dev/shm') ? '/dev/shm' : undefined;

interface Layout {
  readonly pristine: Buffer;
  /** Start and end of record A (entries 1..5) and record B (entries 6..7). */
  readonly a: { readonly start: number; readonly next: number };
  readonly b: { readonly start: number; readonly next: number };
}

async function open(dir: string): Promise<Storage> {
  const s = fileStorage(dir, { segmentBytes: SEGMENT_BYTES, logger: quietLogger() });
  await s.open();
  return s;
}

async function build(dir: string): Promise<Layout> {
  const s = await open(dir);
  await s.save({ entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1, 500)), hardState: { term: 1, vote: 'n1', commit: 0 } });
  await s.save({ entries: [entry(6, 1, 700), entry(7, 1, 700)], hardState: { term: 1, vote: 'n1', commit: 5 } });
  await s.close();
  const pristine = readFileSync(join(dir, SEGMENT));
  const records: { start: number; next: number }[] = [];
  for (let off = 0; ; ) {
    const r = readFrame(pristine, off, pristine.length, 1 << 20);
    if (r.kind !== 'ok') break;
    records.push({ start: r.start, next: r.next });
    off = r.next;
  }
  assert.is(records.length, 3, 'segment header, A, B');
  const [, a, b] = records as [unknown, { start: number; next: number }, { start: number; next: number }];
  assert.ok(b.next - b.start > 2 * SECTOR_BYTES, 'B spans at least three sector pieces');
  return { pristine, a, b };
}

function flipBit(buf: Buffer, byte: number, bit: number): void {
  buf[byte] = (buf[byte] as number) ^ (1 << bit);
}

/** Opens `dir` with `bytes` as its live segment; returns the storage's last index, or 'corruption'. */
async function openWith(dir: string, bytes: Buffer): Promise<number | 'corruption'> {
  writeFileSync(join(dir, SEGMENT), bytes);
  let s: Storage;
  try {
    s = await open(dir);
  } catch (err) {
    if (err instanceof CorruptionError) return 'corruption';
    throw err;
  }
  const last = s.lastIndex();
  await s.close();
  return last;
}

/** Runs `fn` in a fresh data dir, removed afterwards. */
async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('torn', BASE);
  try {
    await fn(dir);
  } finally {
    removeDir(dir);
  }
}

/** A's length field rewritten as `length` (what one or two flips of it give) and a bit of B's payload flipped. */
function forgedLength(l: Layout, length: (old: number) => number): Buffer {
  const bytes = Buffer.from(l.pristine);
  bytes.writeUInt32LE(length(bytes.readUInt32LE(l.a.start)) >>> 0, l.a.start);
  flipBit(bytes, l.b.start + FRAME_HEADER_BYTES + 200, 3);
  return bytes;
}

test('a flipped length of a record that is not the last, with the later record damaged, is corruption', async () => {
  await inDir(async (dir) => {
    const l = await build(dir);
    const cases: [string, Buffer][] = [
      // SEED=2991405555 trial 657: A's length pointed past the end of the file, B was hit too.
      ['A length past the end of the file (bit 14)', forgedLength(l, (n) => n ^ (1 << 14))],
      ['A length past the end of the file (bit 30)', forgedLength(l, (n) => n ^ (1 << 30))],
      // A length with a single set bit flips to 0: once read as "the record never reached the disk".
      ['A length 0', forgedLength(l, () => 0)],
      // A's span then covers the damaged B and ends in the zeroed space: once read as a zeroed sector.
      ['A length over B into the zeroed space', forgedLength(l, (n) => n + (l.b.next - l.a.next) + 3 * SECTOR_BYTES)],
      ['A length shorter (bit 2)', forgedLength(l, (n) => n ^ 4)],
    ];
    const typeFlip = Buffer.from(l.pristine);
    flipBit(typeFlip, l.a.start + 8, 0);
    flipBit(typeFlip, l.b.next - 10, 5);
    cases.push(['A type flipped, B damaged', typeFlip]);
    const checksumFlip = Buffer.from(l.pristine);
    flipBit(checksumFlip, l.a.start + 5, 1);
    flipBit(checksumFlip, l.b.start + 2, 1);
    cases.push(['A checksum flipped, B length flipped', checksumFlip]);
    const zeroHeaderOnly = Buffer.from(l.pristine);
    zeroHeaderOnly.fill(0, l.a.start, l.a.start + FRAME_HEADER_BYTES);
    flipBit(zeroHeaderOnly, l.b.start + 40, 0);
    cases.push(['A frame header zeroed but the rest of its first sector written, B damaged', zeroHeaderOnly]);
    // Every single flip of A's frame header, with B damaged too.
    for (let bit = 0; bit < FRAME_HEADER_BYTES * 8; bit++) {
      const bytes = Buffer.from(l.pristine);
      flipBit(bytes, l.a.start + (bit >> 3), bit & 7);
      flipBit(bytes, l.b.start + FRAME_HEADER_BYTES + 300, 1);
      cases.push([`A header bit ${bit} flipped, B damaged`, bytes]);
    }
    for (const [what, bytes] of cases) assert.is(await openWith(dir, bytes), 'corruption', what);
  });
});

test('a bit flip inside the last record without an unwritten sector is corruption; a flip in the zeroed space is cut', async () => {
  await inDir(async (dir) => {
    const l = await build(dir);
    const inB = Buffer.from(l.pristine);
    flipBit(inB, l.b.start + FRAME_HEADER_BYTES + 900, 6);
    assert.is(await openWith(dir, inB), 'corruption', 'flip in the last record');
    const headerOfB = Buffer.from(l.pristine);
    flipBit(headerOfB, l.b.start + 1, 0);
    assert.is(await openWith(dir, headerOfB), 'corruption', 'flip in the last record header');
    const free = Buffer.from(l.pristine);
    flipBit(free, l.b.next + 3 * SECTOR_BYTES + 7, 2);
    assert.is(await openWith(dir, free), 7, 'garbage in the zeroed space is cut; nothing acknowledged is lost');
  });
});

test('what a torn write of the last record leaves is cut, and appends continue after the cut', async () => {
  await inDir(async (dir) => {
    const l = await build(dir);
    const firstSectorEnd = (Math.floor(l.b.start / SECTOR_BYTES) + 1) * SECTOR_BYTES;
    const firstUnwritten = Buffer.from(l.pristine);
    firstUnwritten.fill(0, l.b.start, firstSectorEnd);
    const laterUnwritten = Buffer.from(l.pristine);
    laterUnwritten.fill(0, firstSectorEnd, firstSectorEnd + SECTOR_BYTES);
    const lastUnwritten = Buffer.from(l.pristine);
    lastUnwritten.fill(0, Math.floor((l.b.next - 1) / SECTOR_BYTES) * SECTOR_BYTES, l.b.next);
    for (const [what, bytes] of [
      ['first sector of B unwritten', firstUnwritten],
      ['a middle sector of B unwritten', laterUnwritten],
      ['last sector of B unwritten', lastUnwritten],
    ] as const) {
      assert.is(await openWith(dir, bytes), 5, what);
      const s = await open(dir);
      await s.save({ entries: [entry(6, 2, 300)], hardState: { term: 2, vote: 'n1', commit: 5 } });
      await s.close();
      const again = await open(dir);
      assert.is(again.lastIndex(), 6, `${what}: the append after the cut survives`);
      assert.is(again.term(6), 2, what);
      await again.close();
    }
  });
});

test('an oversized record goes to a new segment preallocated to hold it: no write grows a file', async () => {
  await inDir(async (dir) => {
    const s = await open(dir);
    await s.save({ entries: [entry(1, 1, 100)] });
    await s.save({ entries: [entry(2, 1, 3 * SEGMENT_BYTES)] }); // larger than a segment
    await s.close();
    const name = '0000000000000001.wal';
    const big = readFileSync(join(dir, name));
    assert.ok(big.length > 3 * SEGMENT_BYTES, `segment 1 preallocated to ${big.length}`);
    const again = await open(dir);
    assert.is(again.lastIndex(), 2);
    await again.save({ entries: [entry(3, 1, 100)] }); // does not fit after it: a new segment
    await again.close();
    assert.ok(existsSync(join(dir, '0000000000000002.wal')));
    const third = await open(dir);
    assert.is(third.lastIndex(), 3);
    await third.close();
    // A record running past the end of its file is never a torn write, even a segment's first:
    // in the closed segment (trimmed to its last record at rotation) and in the live one.
    const closed = readFileSync(join(dir, name));
    writeFileSync(join(dir, name), closed.subarray(0, closed.length - 1));
    await rejects(open(dir), (e) => e instanceof CorruptionError, 'shortened closed segment');
    rmSync(join(dir, '0000000000000002.wal'));
    writeFileSync(join(dir, name), big.subarray(0, big.length - 1));
    await rejects(open(dir), (e) => e instanceof CorruptionError, 'shortened live segment');
    // An oversized first save leaves segment 0 holding only its header.
    const fresh = join(dir, 'fresh');
    const f = await open(fresh);
    await f.save({ entries: [entry(1, 1, 2 * SEGMENT_BYTES), entry(2, 1, 10)], hardState: { term: 1, vote: '', commit: 1 } });
    await f.close();
    const f2 = await open(fresh);
    assert.is(f2.lastIndex(), 2);
    assert.is(f2.entries(1, 3, Infinity)[0]?.data.length, 2 * SEGMENT_BYTES);
    await f2.close();
  });
});

test.run();
