/**
 * The records of etcd's `key` bucket, encoded straight into their leaf page: the revision key
 * (8-byte big-endian main, '_', 8-byte big-endian sub, 't' for a tombstone) and the
 * mvccpb.KeyValue (key 1, create_revision 2, mod_revision 3, version 4, value 5, lease 6; zero
 * fields left out as proto3 does; a tombstone holds the key only, as etcd writes it), revisions
 * in etcd numbering. Nothing is allocated per record but the page: at 1M records the copies of
 * a writer per record were most of the snapshot's garbage. The sizes are computed first (the plan
 * of tree-plan.ts needs them before any page is written), and the writer checks it wrote exactly
 * those bytes.
 */
import { mvccAssert as assert } from '../../assert.ts';
import type { Revision } from '../../store/key-index.ts';
import { toEtcdRev } from '../revision.ts';
import { ELEMENT_BYTES, LEAF_PAGE, PAGE_HEADER_BYTES } from './page.ts';

export const REV_BYTES = 17;
const TOMBSTONE = 0x74; // 't'
const utf8 = new TextEncoder();

/** `n` (a non-negative safe integer) as 8 big-endian bytes at `at`, without a BigInt. */
export function setUint64BE(out: Uint8Array, at: number, n: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(at, Math.floor(n / 0x1_0000_0000));
  view.setUint32(at + 4, n >>> 0);
}

/** etcd's revision key: main and sub big-endian around '_', 't' appended for a tombstone. */
export function revisionKey(main: number, sub: number, tombstone: boolean): Uint8Array {
  const out = new Uint8Array(tombstone ? REV_BYTES + 1 : REV_BYTES);
  writeRevisionKey(out, 0, main, sub, tombstone);
  return out;
}

function writeRevisionKey(out: Uint8Array, at: number, main: number, sub: number, tombstone: boolean): void {
  setUint64BE(out, at, main);
  out[at + 8] = 0x5f;
  setUint64BE(out, at + 9, sub);
  if (tombstone) out[at + REV_BYTES] = TOMBSTONE;
}

/** Bytes of a varint of the non-negative safe integer `v`. */
function varintBytes(v: number): number {
  let n = 1;
  for (let x = v; x >= 0x80; x = Math.floor(x / 0x80)) n++;
  return n;
}

function writeVarint(out: Uint8Array, at: number, v: number): number {
  let p = at;
  let x = v;
  while (x >= 0x80) {
    out[p++] = (x % 0x80) | 0x80;
    x = Math.floor(x / 0x80);
  }
  out[p++] = x;
  return p;
}

/** Bytes of a proto3 field (tag below 16): an int left out at 0, a length-delimited one left out when empty. */
const intField = (v: number): number => (v === 0 ? 0 : 1 + varintBytes(v));
const bytesField = (length: number): number => (length === 0 ? 0 : 1 + varintBytes(length) + length);

function writeInt(out: Uint8Array, at: number, field: number, v: number): number {
  if (v === 0) return at;
  out[at] = field << 3;
  return writeVarint(out, at + 1, v);
}

/** The revision key's length of `rec`. */
export const revisionKeyBytes = (rec: Revision): number => (rec.version === 0 ? REV_BYTES + 1 : REV_BYTES);

/** The KeyValue's length of `rec`. */
export function keyValueBytes(rec: Revision): number {
  const key = bytesField(Buffer.byteLength(rec.key, 'utf8'));
  if (rec.version === 0) return key;
  return key + intField(toEtcdRev(rec.createRevision)) + intField(toEtcdRev(rec.modRevision)) + intField(rec.version) + bytesField(rec.valueLength) + intField(rec.lease);
}

/** Writes `rec`'s KeyValue at `at`; returns where it ends. */
function writeKeyValue(out: Uint8Array, at: number, rec: Revision): number {
  const keyLength = Buffer.byteLength(rec.key, 'utf8');
  out[at] = (1 << 3) | 2;
  let p = writeVarint(out, at + 1, keyLength);
  const { written } = utf8.encodeInto(rec.key, out.subarray(p, p + keyLength));
  assert(written === keyLength, 'bolt: a key is as long in UTF-8 as measured');
  p += keyLength;
  if (rec.version === 0) return p;
  p = writeInt(out, p, 2, toEtcdRev(rec.createRevision));
  p = writeInt(out, p, 3, toEtcdRev(rec.modRevision));
  p = writeInt(out, p, 4, rec.version);
  if (rec.valueLength > 0) {
    out[p] = (5 << 3) | 2;
    p = writeVarint(out, p + 1, rec.valueLength);
    out.set(rec.value, p);
    p += rec.valueLength;
  }
  return writeInt(out, p, 6, rec.lease);
}

/** Leaf page `pgid` of the `key` bucket holding `recs` (their sub-revisions in `subs`), `span` pages long. */
export function keyLeafPage(pgid: number, recs: readonly Revision[], subs: readonly number[], pageBytes: number, span: number): Uint8Array {
  const out = new Uint8Array(span * pageBytes);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(pgid), true);
  view.setUint16(8, LEAF_PAGE, true);
  view.setUint16(10, recs.length, true);
  view.setUint32(12, span - 1, true);
  let data = PAGE_HEADER_BYTES + ELEMENT_BYTES * recs.length;
  recs.forEach((rec, i) => {
    const at = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
    const keyBytes = revisionKeyBytes(rec);
    const valueBytes = keyValueBytes(rec);
    assert(data + keyBytes + valueBytes <= out.length, 'bolt: a key page holds what its plan put in it');
    view.setUint32(at + 4, data - at, true);
    view.setUint32(at + 8, keyBytes, true);
    view.setUint32(at + 12, valueBytes, true);
    writeRevisionKey(out, data, toEtcdRev(rec.modRevision), subs[i] as number, rec.version === 0);
    const end = writeKeyValue(out, data + keyBytes, rec);
    assert(end === data + keyBytes + valueBytes, 'bolt: a KeyValue is as long as the plan made it');
    data = end;
  });
  return out;
}
