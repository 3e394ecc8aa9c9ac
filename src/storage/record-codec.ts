/**
 * WAL record framing and payload codecs.
 *
 * A record on disk is `length u32le | crc32c u32le | type u8 | headerCrc u32le | payload[length]`.
 * `crc32c` covers the length field, the type byte and the payload; `headerCrc` is the CRC-32C of
 * the nine bytes before it, so the length can be trusted before the payload is read: a flipped
 * length (or type, or checksum) is recognized as a flip, never mistaken for a write torn by a
 * crash. A frame header never crosses a 512-byte sector boundary (see {@link frameStart}), so a
 * torn write leaves it either whole or all zeros. Payloads are plain msgpack (no record
 * structures, so no shared table can drift between writer and reader): segment headers via
 * msgpackr, batch items by a hand-written encoder on the hot path (byte-identical to msgpackr),
 * all decoded by msgpackr. Every decoded value is shape-checked: a record whose CRC matches but
 * whose payload is not what this module writes is corruption, never trusted.
 */
import { Packr } from 'msgpackr';
import type { Entry, HardState, LogIndex, Term } from '../protocol/types.ts';
import { crc32cUpdate } from './crc32c.ts';

/** Bytes before the payload: length (4) + crc (4) + type (1) + header crc (4). */
export const FRAME_HEADER_BYTES = 13;
/** Bytes of the frame header covered by its own checksum (length, crc, type). */
const HEADER_CHECKED_BYTES = 9;

/**
 * Sector size the torn-write model assumes: a write interrupted by power loss leaves each
 * aligned 512-byte piece either fully written or untouched (zeros in a preallocated segment).
 */
export const SECTOR_BYTES = 512;

/** WAL format version, written in every segment header. 2: header checksum + sector-aligned frame headers. */
export const WAL_FORMAT_VERSION = 2;

/** First record of every segment: where the log stood when the segment was cut. */
export const RECORD_SEGMENT_HEADER = 1;
/** One durable write: one or more {@link BatchItem}s, each a msgpack value, back to back. */
export const RECORD_BATCH = 2;

/** The first payload byte of each record type (msgpack fixarray headers), used to re-sync scans. */
export const SEGMENT_HEADER_MARKER = 0x96;
export const BATCH_ITEM_MARKER = 0x94;

const packr = new Packr({ useRecords: false, copyBuffers: true });

/** A snapshot reference in the WAL; `reset` marks a snapshot received from the leader (log replaced). */
export interface SnapshotMarker {
  readonly index: LogIndex;
  readonly term: Term;
  readonly reset: boolean;
}

export interface SegmentHeader {
  readonly version: number;
  readonly seq: number;
  /**
   * Size the segment was preallocated to. A crash never shrinks a file, so a live segment
   * shorter than this was truncated by something else: corruption, not a torn write.
   */
  readonly segmentBytes: number;
  /** Last log index/term when this segment was cut; its first entry follows. */
  readonly prevIndex: LogIndex;
  readonly prevTerm: Term;
  readonly hardState: HardState;
  /** The latest snapshot when the segment was cut (survives deletion of older segments). */
  readonly snapshot: { readonly index: LogIndex; readonly term: Term };
}

/** What one `save()` (or one snapshot marker) writes. Applied in order on replay. */
export interface BatchItem {
  readonly hardState?: HardState;
  readonly snapshot?: SnapshotMarker;
  readonly entries: readonly Entry[];
}

/**
 * Where the record following byte `position` starts: `position` itself, or the next sector
 * boundary when its frame header would cross one (the skipped bytes stay zero). Writer and reader
 * both use it, so record positions need not be stored.
 */
export function frameStart(position: number): number {
  const inSector = position % SECTOR_BYTES;
  return inSector > SECTOR_BYTES - FRAME_HEADER_BYTES ? position - inSector + SECTOR_BYTES : position;
}

/**
 * Writes the frame header of the record whose payload is `record[FRAME_HEADER_BYTES,
 * FRAME_HEADER_BYTES + length)` into its first {@link FRAME_HEADER_BYTES} bytes (the WAL encodes
 * a batch in place after the space for its header, then seals it).
 */
export function sealFrame(record: Buffer, type: number, length: number): void {
  record.writeUInt32LE(length, 0);
  record[8] = type;
  let crc = crc32cUpdate(0, record, 0, 4);
  crc = crc32cUpdate(crc, record, 8, 9);
  crc = crc32cUpdate(crc, record, FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
  record.writeUInt32LE(crc, 4);
  record.writeUInt32LE(crc32cUpdate(0, record, 0, HEADER_CHECKED_BYTES), HEADER_CHECKED_BYTES);
}

/** A whole record: `payload` framed by {@link sealFrame}. */
export function encodeFrame(type: number, payload: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  record.set(payload, FRAME_HEADER_BYTES);
  sealFrame(record, type, payload.length);
  return record;
}

/**
 * How much of a bad record can be believed: `zero` — its frame header is all zeros (never
 * written); `valid` — the header checksum holds, so `next` (the record's end) is where the writer
 * put it and only the payload is damaged; `invalid` — anything else.
 */
export type FrameHeaderState = 'zero' | 'valid' | 'invalid';

export type FrameResult =
  | { readonly kind: 'ok'; readonly type: number; readonly start: number; readonly payloadStart: number; readonly next: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly reason: string; readonly start: number; readonly header: FrameHeaderState; readonly next: number };

/** Zeros to memcmp against: recovery checks the unwritten tail of a preallocated segment (MiBs). */
const ZEROS = Buffer.alloc(64 * 1024);
/** Below this a plain loop is cheaper than a memcmp call. */
const SHORT_ZERO_CHECK = 64;

/** Whether `buf[start, end)` is all zero bytes. */
export function isZero(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < SHORT_ZERO_CHECK) {
    for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
    return true;
  }
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let off = start; off < end; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, end - off);
    if (view.compare(ZEROS, 0, n, off, off + n) !== 0) return false;
  }
  return true;
}

function bad(reason: string, start: number, header: FrameHeaderState = 'invalid', next = start): FrameResult {
  return { kind: 'bad', reason, start, header, next };
}

/**
 * Reads the record that follows byte `position` of `buf[0, size)` (at {@link frameStart}).
 * `end` means only zero bytes remain (the preallocated, never written part of a segment). The
 * length is trusted only once the header checksum holds, and is bounded by `maxRecordBytes` and
 * by the bytes left before anything is sliced, so a corrupt length never causes an allocation.
 */
export function readFrame(buf: Uint8Array, position: number, size: number, maxRecordBytes: number): FrameResult {
  if (position >= size) return { kind: 'end' };
  const start = Math.min(frameStart(position), size);
  if (!isZero(buf, position, start)) return bad('non-zero bytes before a sector-aligned frame header', position);
  const remaining = size - start;
  if (remaining < FRAME_HEADER_BYTES) return isZero(buf, start, size) ? { kind: 'end' } : bad('partial frame header', start);
  if (isZero(buf, start, start + FRAME_HEADER_BYTES)) {
    return isZero(buf, start, size) ? { kind: 'end' } : bad('zero frame header with data after it', start, 'zero');
  }
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (crc32cUpdate(0, buf, start, start + HEADER_CHECKED_BYTES) !== view.readUInt32LE(start + HEADER_CHECKED_BYTES)) {
    return bad('frame header checksum mismatch', start);
  }
  // From here the header is what the writer wrote: a bad length is damage the checksum missed
  // or a writer bug, never a torn write, since the writer never grows a file.
  const length = view.readUInt32LE(start);
  if (length === 0 || length > maxRecordBytes) return bad(`length ${length} outside [1, maxRecordBytes ${maxRecordBytes}]`, start);
  const next = start + FRAME_HEADER_BYTES + length;
  if (length > remaining - FRAME_HEADER_BYTES) return bad(`length ${length} points past the end of the file`, start);
  let crc = crc32cUpdate(0, buf, start, start + 4);
  crc = crc32cUpdate(crc, buf, start + 8, start + 9);
  crc = crc32cUpdate(crc, buf, start + FRAME_HEADER_BYTES, next);
  if (crc !== view.readUInt32LE(start + 4)) return bad('checksum mismatch', start, 'valid', next);
  return { kind: 'ok', type: buf[start + 8] as number, start, payloadStart: start + FRAME_HEADER_BYTES, next };
}

/**
 * Whether a complete, checksum-valid record of a known type starts exactly at `offset`. Used
 * after a bad record in the last segment: if any valid record follows, the damage is not a torn
 * tail.
 */
export function isValidFrameAt(buf: Uint8Array, offset: number, size: number, maxRecordBytes: number): boolean {
  if (size - offset < FRAME_HEADER_BYTES + 1 || frameStart(offset) !== offset) return false;
  const type = buf[offset + 8];
  const marker = buf[offset + FRAME_HEADER_BYTES];
  const plausible =
    (type === RECORD_BATCH && marker === BATCH_ITEM_MARKER) || (type === RECORD_SEGMENT_HEADER && marker === SEGMENT_HEADER_MARKER);
  if (!plausible) return false;
  const r = readFrame(buf, offset, size, maxRecordBytes);
  return r.kind === 'ok';
}

// ---- payloads ----------------------------------------------------------------------------

const ENTRY_TYPE_NORMAL = 0;
const ENTRY_TYPE_CONF_CHANGE = 1;

/**
 * Bytes {@link writeBatchItem} takes for `item`. Batch items are standard msgpack —
 * `[hardState | nil, snapshot | nil, firstIndex, [term, type, data, …]]` — written by hand: this
 * is the hot path of every save, and a specialised two-pass encoder (size, then straight writes
 * into one buffer) costs a fraction of a generic one for 256 entries. `decodeBatch` reads it
 * back with msgpackr.
 */
export function batchItemBytes(item: BatchItem): number {
  const hs = item.hardState;
  const snap = item.snapshot;
  const ents = item.entries;
  const first = ents.length === 0 ? 0 : (ents[0] as Entry).index;
  let size = 1;
  if (hs === undefined) size += 1;
  else {
    const vote = Buffer.byteLength(hs.vote, 'utf8');
    size += 1 + uintBytes(hs.term) + strHeaderBytes(vote) + vote + uintBytes(hs.commit);
  }
  size += snap === undefined ? 1 : 1 + uintBytes(snap.index) + uintBytes(snap.term) + 1;
  size += uintBytes(first) + arrayHeaderBytes(ents.length * 3);
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i] as Entry;
    const n = e.data.length;
    size += uintBytes(e.term) + 1 + binHeaderBytes(n) + n;
  }
  return size;
}

/** Writes `item` at `out[o]` (which has {@link batchItemBytes} bytes free); returns the end. */
export function writeBatchItem(item: BatchItem, out: Buffer, o: number): number {
  const hs = item.hardState;
  const snap = item.snapshot;
  const ents = item.entries;
  out[o++] = 0x94;
  if (hs === undefined) out[o++] = 0xc0;
  else {
    out[o++] = 0x93;
    o = writeUint(out, o, hs.term);
    o = writeStrHeader(out, o, Buffer.byteLength(hs.vote, 'utf8'));
    o += out.write(hs.vote, o, 'utf8');
    o = writeUint(out, o, hs.commit);
  }
  if (snap === undefined) out[o++] = 0xc0;
  else {
    out[o++] = 0x93;
    o = writeUint(out, o, snap.index);
    o = writeUint(out, o, snap.term);
    out[o++] = snap.reset ? 0xc3 : 0xc2;
  }
  o = writeUint(out, o, ents.length === 0 ? 0 : (ents[0] as Entry).index);
  o = writeArrayHeader(out, o, ents.length * 3);
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i] as Entry;
    const data = e.data;
    o = writeUint(out, o, e.term);
    out[o++] = e.type === 'normal' ? ENTRY_TYPE_NORMAL : ENTRY_TYPE_CONF_CHANGE;
    o = writeBinHeader(out, o, data.length);
    out.set(data, o);
    o += data.length;
  }
  return o;
}

/** Encodes one batch item into a new buffer (tests and cold paths; the WAL writes in place). */
export function encodeBatchItem(item: BatchItem): Buffer {
  const size = batchItemBytes(item);
  const out = Buffer.allocUnsafe(size);
  const end = writeBatchItem(item, out, 0);
  if (end !== size) throw new Error(`storage: assertion failed: encoded ${end} of ${size} bytes`);
  return out;
}

function uintBytes(v: number): number {
  return v < 0x80 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
}

function writeUint(out: Buffer, o: number, v: number): number {
  if (v < 0x80) {
    out[o] = v;
    return o + 1;
  }
  if (v <= 0xff) {
    out[o] = 0xcc;
    out[o + 1] = v;
    return o + 2;
  }
  if (v <= 0xffff) {
    out[o] = 0xcd;
    out.writeUInt16BE(v, o + 1);
    return o + 3;
  }
  if (v <= 0xffffffff) {
    out[o] = 0xce;
    out.writeUInt32BE(v, o + 1);
    return o + 5;
  }
  // Past 32 bits msgpackr writes (and reads back as a number) a float64; exact up to 2^53.
  out[o] = 0xcb;
  out.writeDoubleBE(v, o + 1);
  return o + 9;
}

function strHeaderBytes(n: number): number {
  return n < 32 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

function writeStrHeader(out: Buffer, o: number, n: number): number {
  if (n < 32) {
    out[o] = 0xa0 | n;
    return o + 1;
  }
  if (n <= 0xff) {
    out[o] = 0xd9;
    out[o + 1] = n;
    return o + 2;
  }
  if (n <= 0xffff) {
    out[o] = 0xda;
    out.writeUInt16BE(n, o + 1);
    return o + 3;
  }
  out[o] = 0xdb;
  out.writeUInt32BE(n, o + 1);
  return o + 5;
}

function arrayHeaderBytes(n: number): number {
  return n < 16 ? 1 : n <= 0xffff ? 3 : 5;
}

function writeArrayHeader(out: Buffer, o: number, n: number): number {
  if (n < 16) {
    out[o] = 0x90 | n;
    return o + 1;
  }
  if (n <= 0xffff) {
    out[o] = 0xdc;
    out.writeUInt16BE(n, o + 1);
    return o + 3;
  }
  out[o] = 0xdd;
  out.writeUInt32BE(n, o + 1);
  return o + 5;
}

function binHeaderBytes(n: number): number {
  return n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

function writeBinHeader(out: Buffer, o: number, n: number): number {
  if (n <= 0xff) {
    out[o] = 0xc4;
    out[o + 1] = n;
    return o + 2;
  }
  if (n <= 0xffff) {
    out[o] = 0xc5;
    out.writeUInt16BE(n, o + 1);
    return o + 3;
  }
  out[o] = 0xc6;
  out.writeUInt32BE(n, o + 1);
  return o + 5;
}

export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  return packr.pack([
    h.version,
    h.seq,
    h.segmentBytes,
    [h.prevIndex, h.prevTerm],
    [h.hardState.term, h.hardState.vote, h.hardState.commit],
    [h.snapshot.index, h.snapshot.term],
  ]);
}

/** A payload that decoded but has the wrong shape. */
export class PayloadShapeError extends Error {}

function fail(what: string): never {
  throw new PayloadShapeError(what);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function count(v: unknown, what: string): number {
  return isCount(v) ? v : fail(`${what} is not a non-negative integer`);
}

function tuple(v: unknown, n: number, what: string): unknown[] {
  return Array.isArray(v) && v.length === n ? (v as unknown[]) : fail(`${what} is not an array of ${n}`);
}

function decodeHardState(v: unknown): HardState {
  const [term, vote, commit] = tuple(v, 3, 'hard state');
  if (typeof vote !== 'string') fail('hard state vote is not a string');
  return { term: count(term, 'hard state term'), vote, commit: count(commit, 'hard state commit') };
}

export function decodeSegmentHeader(payload: Uint8Array): SegmentHeader {
  const [version, seq, segmentBytes, prev, hs, snap] = tuple(packr.unpack(payload), 6, 'segment header');
  const [prevIndex, prevTerm] = tuple(prev, 2, 'segment prev');
  const [snapIndex, snapTerm] = tuple(snap, 2, 'segment snapshot');
  return {
    version: count(version, 'version'),
    seq: count(seq, 'seq'),
    segmentBytes: count(segmentBytes, 'segmentBytes'),
    prevIndex: count(prevIndex, 'prevIndex'),
    prevTerm: count(prevTerm, 'prevTerm'),
    hardState: decodeHardState(hs),
    snapshot: { index: count(snapIndex, 'snapshot index'), term: count(snapTerm, 'snapshot term') },
  };
}

function decodeItem(v: unknown): BatchItem {
  const [hs, snap, first, flat] = tuple(v, 4, 'batch item');
  const firstIndex = count(first, 'first index');
  if (!Array.isArray(flat) || flat.length % 3 !== 0) fail('entries are not a flat array of triples');
  const entries: Entry[] = new Array<Entry>(flat.length / 3);
  for (let i = 0, k = 0; k < flat.length; i++, k += 3) {
    const term = count(flat[k], 'entry term');
    const code = flat[k + 1];
    const data: unknown = flat[k + 2];
    if (code !== 0 && code !== 1) fail('entry type is not 0 or 1');
    if (!(data instanceof Uint8Array)) fail('entry data is not bytes');
    entries[i] = { term, index: firstIndex + i, type: code === 0 ? 'normal' : 'confChange', data };
  }
  if (entries.length > 0 && firstIndex === 0) fail('entries start at index 0');
  let snapshot: SnapshotMarker | undefined;
  if (snap !== null) {
    const [index, term, reset] = tuple(snap, 3, 'snapshot marker');
    if (typeof reset !== 'boolean') fail('snapshot marker reset is not a boolean');
    snapshot = { index: count(index, 'snapshot index'), term: count(term, 'snapshot term'), reset };
  }
  const hardState = hs === null ? undefined : decodeHardState(hs);
  return {
    entries,
    ...(hardState === undefined ? {} : { hardState }),
    ...(snapshot === undefined ? {} : { snapshot }),
  };
}

/** Decodes a batch record's payload (one or more items back to back). */
export function decodeBatch(payload: Uint8Array): BatchItem[] {
  const values = packr.unpackMultiple(payload) as unknown[];
  if (values.length === 0) fail('empty batch');
  return values.map(decodeItem);
}
