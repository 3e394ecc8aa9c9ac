// The hand-written protobuf codec: varints on both sides of the 7-byte fast path, int64 values
// that do not fit a double (exact as bigint, refused as ids), negative int64 (10-byte varints),
// unknown fields skipped by wire type, and every malformed input a ProtoDecodeError; plus the
// key/range_end mapping and the revision shift.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePut, decodeRange, decodeTxn } from '../../src/grpc/messages-kv.ts';
import { prefixEnd, rangeOfKeys } from '../../src/grpc/keys.ts';
import { fromEtcdRev, toEtcdRev } from '../../src/grpc/revision.ts';
import { ProtoDecodeError, ProtoReader, ProtoWriter } from '../../src/grpc/wire.ts';
import { InvalidArgumentError } from '../../src/errors.ts';

test('varints round-trip around the fast path and at 64 bits', () => {
  const values = [0n, 1n, 127n, 128n, 2n ** 28n, 2n ** 49n - 1n, 2n ** 49n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, -1n, -(2n ** 63n)];
  for (const v of values) {
    const bytes = new ProtoWriter().int(1, v).finish();
    const r = new ProtoReader(bytes);
    if (v === 0n) {
      assert.ok(r.done);
      continue;
    }
    assert.equal(r.tag(), { field: 1, wire: 0 });
    assert.is(r.int64(), v, `value ${v}`);
    assert.ok(r.done);
  }
});

test('int64 fields beyond 2^53 are refused, never rounded', () => {
  const bytes = new ProtoWriter().bytes(1, Buffer.from('k')).int(3, 2n ** 53n + 1n).finish();
  assert.throws(() => decodePut(new ProtoReader(bytes)), (e: unknown) => e instanceof InvalidArgumentError && /outside the supported range/.test((e as Error).message));
  const ok = decodePut(new ProtoReader(new ProtoWriter().bytes(1, Buffer.from('k')).int(3, 2 ** 53 - 1).finish()));
  assert.is(ok.lease, 2 ** 53 - 1);
  const neg = decodeRange(new ProtoReader(new ProtoWriter().bytes(1, Buffer.from('k')).int(3, -5n).finish()));
  assert.is(neg.limit, -5);
});

test('unknown fields of every wire type are skipped', () => {
  const w = new ProtoWriter().bytes(1, Buffer.from('k')).int(99, 5).bytes(100, Buffer.from('xx'));
  const raw = Buffer.concat([w.finish(), Buffer.from([(14 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]), Buffer.from([(15 << 3) | 5, 1, 2, 3, 4])]);
  const m = decodePut(new ProtoReader(raw));
  assert.is(Buffer.from(m.key).toString(), 'k');
});

test('malformed input is a ProtoDecodeError', () => {
  const bad = [
    [0x0a, 0x05, 0x01], // length past the end
    [0x18, 0x80], // truncated varint
    [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11-byte varint
    [0x0d, 0x00], // key as fixed32, truncated
    [0x03], // group start
    [0x0c], // group end
    [0x00], // field 0
    [0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // huge length
    [0x12, 0x02, 0x0a, 0x09], // txn success op with a truncated inner field
  ];
  for (const b of bad) {
    assert.throws(() => decodeTxn(new ProtoReader(Uint8Array.from(b))), (e: unknown) => e instanceof InvalidArgumentError, Buffer.from(b).toString('hex'));
  }
  assert.throws(() => decodePut(new ProtoReader(Uint8Array.from([0x20, 0x01, 0x0a]))), (e: unknown) => e instanceof ProtoDecodeError);
  // A RequestOp that sets nothing.
  assert.throws(() => decodeTxn(new ProtoReader(new ProtoWriter().bytesAlways(2, new Uint8Array(0)).finish())), (e: unknown) => e instanceof ProtoDecodeError);
});

test("etcd's key/range_end encoding", () => {
  const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');
  assert.equal(rangeOfKeys(b('a'), new Uint8Array(0)), { key: 'a' });
  assert.equal(rangeOfKeys(b('a'), b('\0')), { start: 'a' });
  assert.equal(rangeOfKeys(b('\0'), b('\0')), { start: '' });
  assert.equal(rangeOfKeys(b('ab'), b('ac')), { prefix: 'ab' });
  assert.equal(rangeOfKeys(b('a'), b('c')), { start: 'a', end: 'c' });
  // A prefix whose increment is not UTF-8 ("¿" is C2 BF; its increment C2 C0 is invalid).
  const inv = Buffer.from('¿', 'utf8');
  const end = prefixEnd(inv) as Uint8Array;
  assert.is(Buffer.from(inv).toString('hex'), 'c2bf', 'prefixEnd copies');
  assert.equal(rangeOfKeys(inv, end), { prefix: '¿' });
  assert.throws(() => rangeOfKeys(new Uint8Array(0), new Uint8Array(0)), /key is not provided/);
  assert.throws(() => rangeOfKeys(Uint8Array.from([0xff]), new Uint8Array(0)), /UTF-8/);
});

test('revisions shift by one at the boundary', () => {
  assert.is(toEtcdRev(0), 1);
  assert.is(toEtcdRev(1), 2);
  assert.is(fromEtcdRev(2), 1);
  assert.is(fromEtcdRev(0), 0);
});

test.run();
