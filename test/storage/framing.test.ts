// Proves the WAL's building blocks: CRC-32C matches the standard check values (and is
// incremental), every framed record reads back byte-exact, readFrame classifies truncated,
// flipped and zero data correctly, and payload decoding rejects shapes this module never writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32c, crc32cUpdate } from '../../src/storage/crc32c.ts';
import {
  decodeBatch,
  decodeSegmentHeader,
  encodeBatchItem,
  encodeFrameHeader,
  encodeSegmentHeader,
  FRAME_HEADER_BYTES,
  PayloadShapeError,
  readFrame,
  RECORD_BATCH,
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
});

function frame(type: number, payload: Buffer): Buffer {
  return Buffer.concat([encodeFrameHeader(type, [payload]), payload]);
}

test('framing round-trip: records of many sizes read back exactly, back to back', () => {
  const rnd = prng(11);
  const payloads: Buffer[] = [];
  for (let i = 0; i < 200; i++) payloads.push(Buffer.from(Uint8Array.from({ length: 1 + Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256))));
  const file = Buffer.concat([...payloads.map((p) => frame(RECORD_BATCH, p)), Buffer.alloc(4096)]);
  let off = 0;
  for (const p of payloads) {
    const r = readFrame(file, off, file.length, 1 << 20);
    assert.is(r.kind, 'ok');
    if (r.kind !== 'ok') return;
    assert.is(r.type, RECORD_BATCH);
    assert.ok(p.equals(file.subarray(r.payloadStart, r.next)));
    off = r.next;
  }
  assert.equal(readFrame(file, off, file.length, 1 << 20), { kind: 'end' });
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
  assert.is(readFrame(zeroThenData, 0, zeroThenData.length, 1 << 20).kind, 'bad');
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
  assert.ok(FRAME_HEADER_BYTES === 9);
});

test.run();
