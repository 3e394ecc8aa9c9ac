/**
 * WAL record framing and payload codecs.
 *
 * A record on disk is `length u32le | crc32c u32le | type u8 | payload[length]`. The CRC covers
 * the length field, the type byte and the payload, so a flipped length is caught like a flipped
 * payload byte. Payloads are plain msgpack (no record structures, so no shared table can drift
 * between writer and reader): segment headers via msgpackr, batch items by a hand-written encoder
 * on the hot path (byte-identical to msgpackr), all decoded by msgpackr. Every decoded value is
 * shape-checked: a record whose CRC matches but whose payload is not what this module writes is
 * corruption, never trusted.
 */
import { Packr } from 'msgpackr';
import type { Entry, HardState, LogIndex, Term } from '../protocol/types.ts';
import { crc32cUpdate } from './crc32c.ts';

/** Bytes before the payload: length (4) + crc (4) + type (1). */
export const FRAME_HEADER_BYTES = 9;

/** WAL format version, written in every segment header. */
export const WAL_FORMAT_VERSION = 1;

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

/** Builds the 9-byte frame header for a payload given in pieces (written with one writev). */
export function encodeFrameHeader(type: number, payloadParts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of payloadParts) length += p.length;
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  header[8] = type;
  let crc = crc32cUpdate(0, header, 0, 4);
  crc = crc32cUpdate(crc, header, 8, 9);
  for (const p of payloadParts) crc = crc32cUpdate(crc, p);
  header.writeUInt32LE(crc, 4);
  return header;
}

export type FrameResult =
  | { readonly kind: 'ok'; readonly type: number; readonly payloadStart: number; readonly next: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'bad'; readonly reason: string };

function isZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Reads the frame at `offset` of `buf[0, size)`. `end` means only zero bytes remain (the
 * preallocated, never written part of a segment). The length is bounded by `maxRecordBytes` and
 * by the bytes left before anything is sliced, so a corrupt length never causes an allocation.
 */
export function readFrame(buf: Uint8Array, offset: number, size: number, maxRecordBytes: number): FrameResult {
  const remaining = size - offset;
  if (remaining <= 0) return { kind: 'end' };
  if (remaining < FRAME_HEADER_BYTES) {
    return isZero(buf, offset, size) ? { kind: 'end' } : { kind: 'bad', reason: 'partial frame header' };
  }
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const length = view.readUInt32LE(offset);
  if (length === 0) {
    return isZero(buf, offset, size) ? { kind: 'end' } : { kind: 'bad', reason: 'zero length with data after it' };
  }
  if (length > maxRecordBytes) return { kind: 'bad', reason: `length ${length} over maxRecordBytes ${maxRecordBytes}` };
  if (length > remaining - FRAME_HEADER_BYTES) {
    return { kind: 'bad', reason: `length ${length} points past the end of the file` };
  }
  const type = buf[offset + 8] as number;
  let crc = crc32cUpdate(0, buf, offset, offset + 4);
  crc = crc32cUpdate(crc, buf, offset + 8, offset + FRAME_HEADER_BYTES + length);
  if (crc !== view.readUInt32LE(offset + 4)) return { kind: 'bad', reason: 'checksum mismatch' };
  return { kind: 'ok', type, payloadStart: offset + FRAME_HEADER_BYTES, next: offset + FRAME_HEADER_BYTES + length };
}

/**
 * Whether a complete, checksum-valid record of a known type starts at `offset`. Used after a bad
 * record in the last segment: if any valid record follows, the damage is not a torn tail.
 */
export function isValidFrameAt(buf: Uint8Array, offset: number, size: number, maxRecordBytes: number): boolean {
  if (size - offset < FRAME_HEADER_BYTES + 1) return false;
  const type = buf[offset + 8];
  const marker = buf[offset + FRAME_HEADER_BYTES];
  const plausible =
    (type === RECORD_BATCH && marker === BATCH_ITEM_MARKER) || (type === RECORD_SEGMENT_HEADER && marker === SEGMENT_HEADER_MARKER);
  if (!plausible) return false;
  const r = readFrame(buf, offset, size, maxRecordBytes);
  return r.kind === 'ok';
}

// ---- payloads ----------------------------------------------------------------------------

const ENTRY_TYPE_CODES = { normal: 0, confChange: 1 } as const;

/**
 * Encodes one batch item as standard msgpack — `[hardState | nil, snapshot | nil, firstIndex,
 * [term, type, data, …]]` — written by hand: this is the hot path of every save, and a
 * specialised two-pass encoder (size, then one allocation and straight writes) costs a fraction
 * of a generic one for 256 entries. `decodeBatch` reads it back with msgpackr.
 */
export function encodeBatchItem(item: BatchItem): Buffer {
  const hs = item.hardState;
  const vote = hs === undefined ? undefined : Buffer.from(hs.vote, 'utf8');
  const snap = item.snapshot;
  const ents = item.entries;
  const first = ents.length === 0 ? 0 : (ents[0] as Entry).index;
  let size = 1;
  size += hs === undefined ? 1 : 1 + uintBytes(hs.term) + strHeaderBytes((vote as Buffer).length) + (vote as Buffer).length + uintBytes(hs.commit);
  size += snap === undefined ? 1 : 1 + uintBytes(snap.index) + uintBytes(snap.term) + 1;
  size += uintBytes(first) + arrayHeaderBytes(ents.length * 3);
  for (const e of ents) size += uintBytes(e.term) + 1 + binHeaderBytes(e.data.length) + e.data.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  out[o++] = 0x94;
  if (hs === undefined) out[o++] = 0xc0;
  else {
    out[o++] = 0x93;
    o = writeUint(out, o, hs.term);
    o = writeStrHeader(out, o, (vote as Buffer).length);
    o += (vote as Buffer).copy(out, o);
    o = writeUint(out, o, hs.commit);
  }
  if (snap === undefined) out[o++] = 0xc0;
  else {
    out[o++] = 0x93;
    o = writeUint(out, o, snap.index);
    o = writeUint(out, o, snap.term);
    out[o++] = snap.reset ? 0xc3 : 0xc2;
  }
  o = writeUint(out, o, first);
  o = writeArrayHeader(out, o, ents.length * 3);
  for (const e of ents) {
    o = writeUint(out, o, e.term);
    out[o++] = ENTRY_TYPE_CODES[e.type];
    o = writeBinHeader(out, o, e.data.length);
    out.set(e.data, o);
    o += e.data.length;
  }
  if (o !== size) throw new Error(`storage: assertion failed: encoded ${o} of ${size} bytes`);
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
