/**
 * The segmented write-ahead log. Segment files are `<seq:16 hex>.wal`; each starts with a
 * segment-header record and then holds batch records (see record-codec.ts for framing).
 *
 * The live (last) segment is preallocated to `segmentBytes` with ftruncate, so an append
 * overwrites zeros inside the file instead of growing it and `fdatasync` does not have to
 * journal a new file size on every write. Its logical end is the first zero length field.
 * To rotate, the next segment is created as `wal.tmp` (header written, preallocated, fsynced),
 * renamed into place and the directory fsynced; then the old one is trimmed to its last record
 * and fsynced. So a segment that exists always has a complete header and the live segment is
 * never shorter than its preallocated size (a crash never shrinks a file).
 *
 * Every write is exactly one record, and writes are serialized (the next starts after the
 * previous fdatasync), so a crash can damage only the last record of the last segment. Recovery
 * uses that: a bad record in the last segment followed by no valid record is a torn write and
 * is truncated; anything else is a {@link CorruptionError}.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { CorruptionError } from '../errors.ts';
import { closeFd, fdatasync, fsync, fsyncDir, ftruncate, openFile, writevAll } from './fs-util.ts';
import {
  decodeBatch,
  decodeSegmentHeader,
  encodeFrameHeader,
  encodeSegmentHeader,
  FRAME_HEADER_BYTES,
  isValidFrameAt,
  readFrame,
  RECORD_BATCH,
  RECORD_SEGMENT_HEADER,
  WAL_FORMAT_VERSION,
  type BatchItem,
  type SegmentHeader,
} from './record-codec.ts';

export const SEGMENT_FILE_RE = /^([0-9a-f]{16})\.wal$/;
const SEGMENT_TEMP = 'wal.tmp';

export function segmentFileName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}.wal`;
}

export interface WalConfig {
  readonly dir: string;
  readonly segmentBytes: number;
  readonly maxRecordBytes: number;
  readonly warn: (obj: object, msg: string) => void;
}

export interface SegmentInfo {
  readonly seq: number;
  readonly prevIndex: number;
}

/** Receives the replayed WAL in order; throws {@link CorruptionError} for an inconsistent log. */
export interface ReplayVisitor {
  header(h: SegmentHeader, file: string, first: boolean): void;
  item(item: BatchItem, file: string, offset: number): void;
}

export interface ReplayResult {
  readonly segments: SegmentInfo[];
  /** Where the next record goes in the last segment. */
  readonly tailOffset: number;
  /** Whether a torn record was cut off the tail. */
  readonly truncated: boolean;
  /** End of the last segment's header record. */
  readonly tailHeaderEnd: number;
  /** When truncated: end of the torn bytes to zero (after them the segment is already zero). */
  readonly tornEnd: number;
}

/** Segment sequence numbers present in `names`, ascending. */
export function listSegments(names: readonly string[]): number[] {
  const seqs: number[] = [];
  for (const n of names) {
    const m = SEGMENT_FILE_RE.exec(n);
    if (m !== null) seqs.push(parseInt(m[1] as string, 16));
  }
  return seqs.sort((a, b) => a - b);
}

function corrupt(file: string, offset: number, detail: string, cause?: unknown): never {
  throw new CorruptionError(file, offset, detail, cause === undefined ? undefined : { cause });
}

/** Replays every segment; returns where to append. Rejects with {@link CorruptionError}. */
export async function replayWal(cfg: WalConfig, seqs: readonly number[], visit: ReplayVisitor): Promise<ReplayResult> {
  const segments: SegmentInfo[] = [];
  let tailOffset = 0;
  let truncated = false;
  let tailHeaderEnd = 0;
  let tornEnd = 0;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    if (i > 0 && seq !== (seqs[i - 1] as number) + 1) corrupt(join(cfg.dir, segmentFileName(seq)), 0, `segment ${(seqs[i - 1] as number) + 1} is missing`);
    const file = join(cfg.dir, segmentFileName(seq));
    // Synchronous on purpose: recovery runs before the member serves anything, and one read
    // call per segment is much cheaper than readFile's chunked async round trips.
    const buf = fs.readFileSync(file);
    const last = i === seqs.length - 1;
    const header = readHeader(buf, file, seq, cfg.maxRecordBytes);
    visit.header(header.value, file, i === 0);
    segments.push({ seq, prevIndex: header.value.prevIndex });
    if (last && buf.length < header.value.segmentBytes) {
      corrupt(file, buf.length, `live segment is ${buf.length} bytes, shorter than its preallocated ${header.value.segmentBytes} (truncated)`);
    }
    const r = scanRecords(buf, header.next, file, last, cfg, visit);
    tailOffset = r.end;
    truncated = r.torn;
    tailHeaderEnd = header.next;
    if (r.torn) tornEnd = lastNonZero(buf) + 1;
  }
  return { segments, tailOffset, truncated, tailHeaderEnd, tornEnd };
}

function readHeader(buf: Buffer, file: string, seq: number, maxRecordBytes: number): { value: SegmentHeader; next: number } {
  const r = readFrame(buf, 0, buf.length, maxRecordBytes);
  if (r.kind !== 'ok') corrupt(file, 0, `bad segment header (${r.kind === 'bad' ? r.reason : 'empty'})`);
  if (r.type !== RECORD_SEGMENT_HEADER) corrupt(file, 0, `first record has type ${r.type}, not a segment header`);
  let h: SegmentHeader;
  try {
    h = decodeSegmentHeader(buf.subarray(r.payloadStart, r.next));
  } catch (err) {
    corrupt(file, 0, 'undecodable segment header', err);
  }
  if (h.version !== WAL_FORMAT_VERSION) corrupt(file, 0, `unsupported WAL format version ${h.version}`);
  if (h.seq !== seq) corrupt(file, 0, `segment header names seq ${h.seq}`);
  return { value: h, next: r.next };
}

function scanRecords(
  buf: Buffer,
  start: number,
  file: string,
  last: boolean,
  cfg: WalConfig,
  visit: ReplayVisitor,
): { end: number; torn: boolean } {
  let off = start;
  for (;;) {
    const r = readFrame(buf, off, buf.length, cfg.maxRecordBytes);
    if (r.kind === 'end') {
      // A closed segment normally ends at its last record; a zeroed rest is left when a crash
      // came between creating the next segment and trimming this one. Records lost from a
      // closed segment's end are caught by the next segment's header, which names the log end.
      return { end: off, torn: false };
    }
    if (r.kind === 'bad') {
      if (!last) corrupt(file, off, r.reason);
      const why = tornEvidence(buf, off, start, cfg.maxRecordBytes);
      if (why === undefined) corrupt(file, off, `${r.reason}; not a torn write (the record is not the last one or no part of it is unwritten)`);
      cfg.warn({ file, offset: off, reason: r.reason, evidence: why, bytes: buf.length - off }, 'storage: truncating a torn record at the WAL tail');
      return { end: off, torn: true };
    }
    if (r.type !== RECORD_BATCH) corrupt(file, off, `unexpected record type ${r.type}`);
    let items: BatchItem[];
    try {
      items = decodeBatch(buf.subarray(r.payloadStart, r.next));
    } catch (err) {
      corrupt(file, off, 'undecodable batch payload', err);
    }
    for (const item of items) visit.item(item, file, off);
    off = r.next;
  }
}

/** Devices write whole sectors; a write torn by power loss leaves whole sectors unwritten (zero). */
const SECTOR_BYTES = 512;

function lastNonZero(buf: Uint8Array): number {
  for (let i = buf.length - 1; i >= 0; i--) if (buf[i] !== 0) return i;
  return -1;
}

function allZero(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Decides whether the bad record at `off` (in the last segment) is a write torn by a crash, and
 * says why; `undefined` means it is corruption. Writes are serialized and each is one record, so
 * a torn write is the last record, nothing valid follows it, and — since the segment was zeroed
 * before use — the sectors the crash did not write read as zeros:
 * - the length field is 0 (the record's first sector never reached the disk); or
 * - the record ends inside the file, only zeros follow it, and one of its sector-aligned pieces
 *   after the length field is all zeros; or
 * - it is the first record of the segment and runs past the end of the file (an oversized
 *   record that was growing the file).
 * A bit flip in an earlier record fails the first test (valid records follow), a flip inside the
 * last record leaves no zero sector, and a flipped length points into data or past the end.
 */
function tornEvidence(buf: Buffer, off: number, firstRecord: number, maxRecordBytes: number): string | undefined {
  const size = buf.length;
  for (let y = off + 1; y < size; y++) {
    const type = buf[y + 8];
    if (type !== RECORD_BATCH && type !== RECORD_SEGMENT_HEADER) continue; // cannot start a record
    if (isValidFrameAt(buf, y, size, maxRecordBytes)) return undefined;
  }
  if (size - off < 4) return 'partial length field at the end of the file';
  const length = buf.readUInt32LE(off);
  if (length === 0) return 'zero length field';
  if (length > maxRecordBytes) return undefined;
  const end = off + FRAME_HEADER_BYTES + length;
  if (end > size) return off === firstRecord ? 'first record of the segment runs past the end of the file' : undefined;
  if (!allZero(buf, end, size)) return undefined;
  for (let chunk = off + 8; chunk < end; ) {
    const next = Math.min(end, (Math.floor(chunk / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (allZero(buf, chunk, next)) return `zeroed sector piece at ${chunk}`;
    chunk = next;
  }
  return undefined;
}

/**
 * Appends records to the last segment and rotates. Not reentrant: the caller serializes calls
 * (file-storage's flush loop is the only caller).
 */
export class WalWriter {
  readonly #cfg: WalConfig;
  #fd: number;
  #seq: number;
  // Invariant: bytes [0, #offset) of the live segment are durable records; the rest are zeros.
  #offset: number;
  #headerEnd: number;
  /**
   * Size of the live segment file: its preallocated size (or more, after an oversized first
   * record). A record that does not fit goes to a new segment, so only a segment's first record
   * ever grows a file. Not `cfg.segmentBytes`: a segment resumed after a restart with a larger
   * option keeps the size it was preallocated to, and a write growing it past that could be
   * torn into a state recovery must call corruption (a record running past the end of a file).
   */
  #capacity: number;
  readonly #segments: SegmentInfo[];

  private constructor(cfg: WalConfig, fd: number, seq: number, offset: number, headerEnd: number, capacity: number, segments: SegmentInfo[]) {
    this.#cfg = cfg;
    this.#fd = fd;
    this.#seq = seq;
    this.#offset = offset;
    this.#headerEnd = headerEnd;
    this.#capacity = capacity;
    this.#segments = segments;
  }

  /** Creates segment 0 of an empty WAL. */
  static async create(cfg: WalConfig, header: SegmentHeader): Promise<WalWriter> {
    const { fd, headerEnd } = await createSegment(cfg, header);
    return new WalWriter(cfg, fd, header.seq, headerEnd, headerEnd, Math.max(cfg.segmentBytes, headerEnd), [{ seq: header.seq, prevIndex: header.prevIndex }]);
  }

  /** Reopens the last replayed segment for appending, zeroing anything after `tailOffset`. */
  static async resume(cfg: WalConfig, replay: ReplayResult): Promise<WalWriter> {
    const tail = replay.segments[replay.segments.length - 1];
    if (tail === undefined) throw new Error('storage: assertion failed: resume without segments');
    const fd = await openFile(join(cfg.dir, segmentFileName(tail.seq)), fs.constants.O_RDWR);
    let capacity: number;
    try {
      capacity = await fileSize(fd);
      if (replay.truncated && replay.tornEnd > replay.tailOffset) {
        // Zero the torn record in place (never shrink the file: see SegmentHeader.segmentBytes).
        await writevAll(fd, [Buffer.alloc(replay.tornEnd - replay.tailOffset)], replay.tailOffset);
        await fdatasync(fd);
      }
    } catch (err) {
      await closeFd(fd).catch(() => undefined);
      throw err;
    }
    return new WalWriter(cfg, fd, tail.seq, replay.tailOffset, replay.tailHeaderEnd, capacity, replay.segments.slice());
  }

  get segments(): readonly SegmentInfo[] {
    return this.#segments;
  }

  /** Bytes a record with this payload takes on disk. */
  static recordBytes(payloadBytes: number): number {
    return FRAME_HEADER_BYTES + payloadBytes;
  }

  /**
   * Writes one batch record with one writev and one fdatasync. `cut` supplies the header of a
   * new segment if this record does not fit in the current one.
   */
  async append(payload: readonly Buffer[], cut: (seq: number) => SegmentHeader): Promise<void> {
    let bytes = FRAME_HEADER_BYTES;
    for (const p of payload) bytes += p.length;
    if (this.#offset > this.#headerEnd && this.#offset + bytes > this.#capacity) await this.#rotate(cut(this.#seq + 1));
    const frame = encodeFrameHeader(RECORD_BATCH, payload);
    await writevAll(this.#fd, [frame, ...payload], this.#offset);
    await fdatasync(this.#fd);
    this.#offset += bytes;
    if (this.#offset > this.#capacity) this.#capacity = this.#offset; // an oversized first record grew the file
  }

  async #rotate(header: SegmentHeader): Promise<void> {
    const { fd, headerEnd } = await createSegment(this.#cfg, header);
    // Trim the old segment only once the new one exists, so the live segment is never short.
    await ftruncate(this.#fd, this.#offset);
    await fsync(this.#fd);
    const old = this.#fd;
    this.#fd = fd;
    this.#seq = header.seq;
    this.#offset = headerEnd;
    this.#headerEnd = headerEnd;
    this.#capacity = Math.max(this.#cfg.segmentBytes, headerEnd);
    this.#segments.push({ seq: header.seq, prevIndex: header.prevIndex });
    await closeFd(old);
  }

  /**
   * Deletes segments holding only entries before `index`: every segment but the live one whose
   * successor starts at or below `index - 1`. Oldest first, so a crash leaves a contiguous run.
   */
  async deleteBelow(index: number): Promise<number> {
    let n = 0;
    while (this.#segments.length > 1) {
      const next = this.#segments[1] as SegmentInfo;
      if (next.prevIndex >= index) break;
      const victim = this.#segments[0] as SegmentInfo;
      await fs.promises.rm(join(this.#cfg.dir, segmentFileName(victim.seq)), { force: true });
      this.#segments.shift();
      n++;
    }
    if (n > 0) await fsyncDir(this.#cfg.dir);
    return n;
  }

  async close(): Promise<void> {
    await closeFd(this.#fd);
  }
}

function fileSize(fd: number): Promise<number> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size))));
}

/** temp file → header → preallocate → fsync → rename → dir fsync; returns the open live fd. */
async function createSegment(cfg: WalConfig, header: SegmentHeader): Promise<{ fd: number; headerEnd: number }> {
  const tmp = join(cfg.dir, SEGMENT_TEMP);
  const payload = encodeSegmentHeader(header);
  const frame = encodeFrameHeader(RECORD_SEGMENT_HEADER, [payload]);
  const fd = await openFile(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC);
  try {
    await writevAll(fd, [frame, payload], 0);
    await ftruncate(fd, Math.max(cfg.segmentBytes, frame.length + payload.length));
    await fsync(fd);
    await fs.promises.rename(tmp, join(cfg.dir, segmentFileName(header.seq)));
    await fsyncDir(cfg.dir);
  } catch (err) {
    await closeFd(fd).catch(() => undefined);
    throw err;
  }
  return { fd, headerEnd: frame.length + payload.length };
}
