// Proves the WAL's building blocks: CRC-32C matches the standard check values (and is
// incremental), every framed record reads back byte-exact, readFrame classifies truncated,
// flipped and zero data correctly, frame headers never cross a sector boundary, every pattern of
// 1-3 bit flips in a frame header is reported as an invalid header (never as a zero or valid one,
// so a flipped length cannot pose as a torn write), and payload decoding rejects shapes this
// module never writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32c, crc32cUpdate, crc32cUpdatePortable } from '../../src/storage/crc32c.ts';
import {
  decodeBatch,
  decodeSegmentHeader,
  encodeBatchItem,
  encodeFrame,
  encodeSegmentHeader,
  FRAME_HEADER_BYTES,
  frameStart,
  PayloadShapeError,
  readFrame,
  RECORD_BATCH,
  SECTOR_BYTES,
} from '../../src/storage/record-codec.ts';
import { Packr } from 'msgpackr';
import { entries, prng, sameBytes } from './helpers.ts';

test('crc32c check values (RFC 3720 B.4) and incremental updates', () => {
  assert.is(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
  assert.is(crc32c(inc), 0x46dd794e);
  assert.is(crc32c(new Uint8Array(0)), 0);
  const rnd = prng(7);
  const big = Uint8Array.from({ length: 10_000 }, () => Math.floor(rnd() * 256));
  for (const cut of [0, 1, 7, 8, 9, 4999, 10_000]) assert.is(crc32cUpdate(crc32cUpdate(0, big, 0, cut), big, cut), crc32c(big));
  // The word loop (aligned 32-bit reads) against byte reads, at every alignment and many lengths.
  for (let shift = 0; shift < 8; shift++) {
    const view = big.subarray(shift);
    for (const len of [0, 1, 15, 16, 17, 63, 64, 65, 100, 1000, 4097]) {
      assert.is(crc32cUpdate(5, view, 3, 3 + len), crc32cUpdatePortable(5, view, 3, 3 + len), `shift ${shift} length ${len}`);
    }
  }
});

function frame(type: number, payload: Buffer): Buffer {
  return encodeFrame(type, payload);
}

/** Lays records out the way the WAL writer does: each at frameStart() of the previous end. */
function layout(records: readonly Buffer[], tail: number): Buffer {
  let end = 0;
  const at: number[] = [];
  for (const r of records) {
    at.push(frameStart(end));
    end = frameStart(end) + r.length;
  }
  const file = Buffer.alloc(end + tail);
  records.forEach((r, i) => r.copy(file, at[i] as number));
  return file;
}

test('framing round-trip: records of many sizes read back exactly, back to back', () => {
  const rnd = prng(11);
  const payloads: Buffer[] = [];
  for (let i = 0; i < 200; i++) payloads.push(Buffer.from(Uint8Array.from({ length: 1 + Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256))));
  const file = layout(payloads.map((p) => frame(RECORD_BATCH, p)), 4096);
  let off = 0;
  for (const p of payloads) {
    const r = readFrame(file, off, file.length, 1 << 20);
    assert.is(r.kind, 'ok');
    if (r.kind !== 'ok') return;
    assert.is(r.type, RECORD_BATCH);
    assert.is(Math.floor(r.start / SECTOR_BYTES), Math.floor((r.start + FRAME_HEADER_BYTES - 1) / SECTOR_BYTES), 'header within one sector');
    assert.ok(p.equals(file.subarray(r.payloadStart, r.next)));
    off = r.next;
  }
  assert.equal(readFrame(file, off, file.length, 1 << 20), { kind: 'end' });
});

test('frameStart: a frame header never crosses a sector boundary, and only the needed bytes are skipped', () => {
  for (let p = 0; p < 3 * SECTOR_BYTES; p++) {
    const s = frameStart(p);
    assert.ok(s >= p && s - p < FRAME_HEADER_BYTES, `position ${p} -> ${s}`);
    assert.is(Math.floor(s / SECTOR_BYTES), Math.floor((s + FRAME_HEADER_BYTES - 1) / SECTOR_BYTES), `position ${p}`);
    if (s > p) assert.is(s % SECTOR_BYTES, 0, `position ${p}`);
  }
});

test('every 1-, 2- and 3-bit flip of a frame header reads as an invalid header, never zero or valid', () => {
  const rec = layout([frame(RECORD_BATCH, Buffer.alloc(700, 0x42))], 1024);
  const bits = FRAME_HEADER_BYTES * 8;
  const flip = (c: Buffer, bit: number): void => {
    c[bit >> 3] = (c[bit >> 3] as number) ^ (1 << (bit & 7));
  };
  let patterns = 0;
  const check = (c: Buffer, what: string): void => {
    const r = readFrame(c, 0, c.length, 1 << 20);
    if (r.kind !== 'bad' || r.header !== 'invalid') assert.unreachable(`${what}: ${JSON.stringify(r)}`);
    patterns++;
  };
  const c = Buffer.from(rec);
  for (let a = 0; a < bits; a++) {
    flip(c, a);
    check(c, `bit ${a}`);
    for (let b = a + 1; b < bits; b++) {
      flip(c, b);
      check(c, `bits ${a},${b}`);
      for (let d = b + 1; d < bits; d++) {
        flip(c, d);
        check(c, `bits ${a},${b},${d}`);
        flip(c, d);
      }
      flip(c, b);
    }
    flip(c, a);
  }
  assert.is(patterns, bits + (bits * (bits - 1)) / 2 + (bits * (bits - 1) * (bits - 2)) / 6);
});

test('readFrame: truncation, flips, oversized and zero lengths are bad, never ok', () => {
  const payload = Buffer.from('hello, write-ahead log');
  const rec = frame(RECORD_BATCH, payload);
  for (let cut = 1; cut < rec.length; cut++) assert.is(readFrame(rec, 0, cut, 1 << 20).kind, 'bad', `cut ${cut}`);
  for (let bit = 0; bit < rec.length * 8; bit++) {
    const c = Buffer.from(rec);
    c[bit >> 3] = (c[bit >> 3] as number) ^ (1 << (bit & 7));
    const r = readFrame(c, 0, c.length, 1 << 20);
    assert.is.not(r.kind, 'ok', `bit ${bit}`);
  }
  assert.is(readFrame(rec, 0, rec.length, 10).kind, 'bad', 'over maxRecordBytes');
  const zeroThenData = Buffer.concat([Buffer.alloc(16), Buffer.from([1])]);
  const z = readFrame(zeroThenData, 0, zeroThenData.length, 1 << 20);
  assert.ok(z.kind === 'bad' && z.header === 'zero');
  const damagedPayload = Buffer.concat([rec, Buffer.alloc(8)]);
  damagedPayload[FRAME_HEADER_BYTES + 2] = (damagedPayload[FRAME_HEADER_BYTES + 2] as number) ^ 4;
  const v = readFrame(damagedPayload, 0, damagedPayload.length, 1 << 20);
  assert.ok(v.kind === 'bad' && v.header === 'valid' && v.next === rec.length, 'a payload flip keeps the header valid');
});

test('frame header checksum: no pattern of up to 5 flipped bits in the 13 header bytes goes undetected', () => {
  // CRC-32C is linear: flipping a set of bits changes (crc of bytes 0-8) xor (stored header crc)
  // by the xor of each bit's own change (its syndrome). A pattern goes undetected iff its
  // syndromes xor to 0, so checking sums of up to 5 of the 104 syndromes covers every pattern.
  const header = encodeFrame(RECORD_BATCH, Buffer.from('payload')).subarray(0, FRAME_HEADER_BYTES);
  const syndromes: number[] = [];
  for (let bit = 0; bit < 72; bit++) {
    const h = Buffer.from(header);
    h[bit >> 3] = (h[bit >> 3] as number) ^ (1 << (bit & 7));
    syndromes.push((crc32c(h, 0, 9) ^ crc32c(header, 0, 9)) >>> 0);
  }
  for (let bit = 0; bit < 32; bit++) syndromes.push((1 << bit) >>> 0);
  const n = syndromes.length;
  const at = (i: number): number => syndromes[i] as number;
  const pairs = new Map<number, number[]>(); // xor of two syndromes -> pairs (a * n + b)
  for (let a = 0; a < n; a++) {
    assert.is.not(at(a), 0, `bit ${a}`);
    for (let b = a + 1; b < n; b++) {
      const x = (at(a) ^ at(b)) >>> 0;
      assert.is.not(x, 0, `bits ${a},${b}`);
      pairs.set(x, [...(pairs.get(x) ?? []), a * n + b]);
    }
  }
  const disjoint = (p: number, others: readonly number[]): boolean => !others.includes(Math.floor(p / n)) && !others.includes(p % n);
  for (let a = 0; a < n; a++) {
    // 3 bits: a pair equal to a single syndrome; 4 bits: two disjoint pairs with the same xor.
    for (const p of pairs.get(at(a)) ?? []) assert.not.ok(disjoint(p, [a]), `3 bits with ${a}`);
    for (let b = a + 1; b < n; b++) {
      const list = pairs.get((at(a) ^ at(b)) >>> 0) ?? [];
      for (const p of list) if (p !== a * n + b) assert.not.ok(disjoint(p, [a, b]), `4 bits with ${a},${b}`);
      // 5 bits: a triple whose xor equals a disjoint pair's.
      for (let c = b + 1; c < n; c++) {
        for (const p of pairs.get((at(a) ^ at(b) ^ at(c)) >>> 0) ?? []) assert.not.ok(disjoint(p, [a, b, c]), `5 bits with ${a},${b},${c}`);
      }
    }
  }
});

test('batch items round-trip: hard state, snapshot marker, entries, several items per record', () => {
  const a = { hardState: { term: 3, vote: 'n2', commit: 9 }, entries: entries(5, 5, 3) };
  const b = { snapshot: { index: 20, term: 4, reset: true }, entries: entries(21, 2, 4) };
  const c = { entries: [] };
  const decoded = decodeBatch(Buffer.concat([encodeBatchItem(a), encodeBatchItem(b), encodeBatchItem(c)]));
  assert.is(decoded.length, 3);
  assert.equal(decoded[0]?.hardState, a.hardState);
  assert.is(decoded[0]?.snapshot, undefined);
  assert.equal(decoded[1]?.snapshot, b.snapshot);
  assert.is(decoded[2]?.entries.length, 0);
  const got = decoded[0]?.entries ?? [];
  assert.is(got.length, 5);
  got.forEach((e, i) => {
    const want = a.entries[i];
    assert.ok(want !== undefined && e.index === want.index && e.term === want.term && e.type === want.type && sameBytes(e.data, want.data));
  });
  const h = { version: 1, seq: 7, segmentBytes: 4096, prevIndex: 99, prevTerm: 5, hardState: { term: 5, vote: '', commit: 90 }, snapshot: { index: 80, term: 4 } };
  assert.equal(decodeSegmentHeader(encodeSegmentHeader(h)), h);
});

test('the hand-written batch encoder emits exactly what msgpackr would, at every size boundary', () => {
  const p = new Packr({ useRecords: false });
  for (const v of [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
    for (const len of [0, 1, 31, 32, 255, 256, 65535, 65536, 70000]) {
      const data = Buffer.alloc(len, 3);
      const vote = 'é'.repeat(len % 300);
      const item = { entries: [{ term: v, index: v || 1, type: 'confChange' as const, data }], hardState: { term: v, vote, commit: v }, snapshot: { index: v, term: v, reset: len % 2 === 0 } };
      const ref = p.pack([[v, vote, v], [v, v, len % 2 === 0], v || 1, [v, 1, data]]);
      assert.ok(encodeBatchItem(item).equals(ref), `value ${v}, length ${len}`);
    }
  }
  const many = entries(1, 40, 2);
  assert.ok(encodeBatchItem({ entries: many }).equals(p.pack([null, null, 1, many.flatMap((e) => [e.term, e.type === 'normal' ? 0 : 1, e.data])])));
});

test('payload decoding rejects shapes this module never writes', () => {
  const p = new Packr({ useRecords: false });
  const bad: unknown[] = [
    [null, null, 1, [1, 0]],
    [null, null, 1, [1, 2, new Uint8Array(1)]],
    [null, null, 1, [-1, 0, new Uint8Array(1)]],
    [null, null, 1, [1, 0, 'str']],
    [null, null, 0, [1, 0, new Uint8Array(1)]],
    [[1, 2, 3], null, 1, []],
    [null, [1, 2], 1, []],
    [null, null, 1.5, []],
    { a: 1 },
    'x',
  ];
  for (const v of bad) assert.throws(() => decodeBatch(p.pack(v)), (e: unknown) => e instanceof PayloadShapeError, JSON.stringify(v));
  assert.throws(() => decodeBatch(Buffer.from([0x94, 0xc0])));
  assert.ok(FRAME_HEADER_BYTES === 13);
});

test.run();
