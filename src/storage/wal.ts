/**
 * The segmented write-ahead log. Segment files are `<seq:16 hex>.wal`; each starts with a
 * segment-header record and then holds batch records (see record-codec.ts for framing).
 *
 * The live (last) segment is preallocated to `segmentBytes` with ftruncate, so an append
 * overwrites zeros inside the file instead of growing it and `fdatasync` does not have to
 * journal a new file size on every write. Its logical end is the first all-zero frame header.
 * A write never grows a file: a record that does not fit goes to a new segment preallocated to
 * hold it, so a length pointing past the end of a file is always corruption.
 * To rotate, the next segment is created as `wal.tmp` (header written, preallocated, fsynced),
 * renamed into place and the directory fsynced; then the old one is trimmed to its last record
 * and fsynced. So a segment that exists always has a complete header and the live segment is
 * never shorter than its preallocated size (a crash never shrinks a file).
 *
 * Every write is exactly one record, and writes are serialized (the next starts after the
 * previous fdatasync), so a crash can damage only the last record of the last segment. Recovery
 * uses that: a bad record in the last segment is a torn write, and is truncated, only when it
 * shows what a torn write leaves and a few bit flips cannot forge (see {@link tornEvidence});
 * anything else is a {@link CorruptionError}.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { CorruptionError } from '../errors.ts';
import { storageAssert as assert } from '../assert.ts';
import { closeFd, fdatasync, fileSize, fsync, fsyncDir, ftruncate, openFile, writeAll, yieldToLoop } from './fs-util.ts';
import {
  decodeBatch,
  decodeSegmentHeader,
  encodeFrame,
  encodeSegmentHeader,
  FRAME_HEADER_BYTES,
  frameStart,
  isValidFrameAt,
  isZero,
  readFrame,
  RECORD_BATCH,
  RECORD_SEGMENT_HEADER,
  sealFrame,
  SECTOR_BYTES,
  WAL_FORMAT_VERSION,
  writeBatchItem,
  type BatchItem,
  type FrameResult,
  type SegmentHeader,
} from './record-codec.ts';

/**
 * On Linux the live segment is opened with O_DSYNC: each write returns once its data (and the
 * metadata needed to read it back) is durable, so an append costs one trip through libuv's thread
 * pool instead of two (write, then fdatasync) — a wake-up less per save on the latency path.
 * Elsewhere, fdatasync: on macOS libuv's fdatasync is F_FULLFSYNC (flushes the drive's cache),
 * which an O_DSYNC write does not do.
 */
export const O_DSYNC: number = process.platform === 'linux' ? (fs.constants.O_DSYNC ?? 0) : 0;

/**
 * Zeros written ahead of the tail of the live segment, in chunks of this size, when the writer
 * is idle. A segment is preallocated with ftruncate, which leaves a hole: the first write into
 * each block of a hole allocates it, and a durable write then also waits for the file system's
 * journal to commit that allocation — measured here for a 17 KB record (a 256-entry batch):
 * 576 µs into a hole against 290 µs into written zeros, 800 against 510 µs with three members
 * writing at once. Overwriting zeros that are already durable needs no journal commit.
 */
export const ZERO_CHUNK_BYTES = 256 * 1024;
/** The zero-filled runway is topped up while it is shorter than this. */
export const ZERO_RUNWAY_BYTES = 1024 * 1024;
let zeroChunk: Buffer | undefined;

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
  /** Told the seconds each durable record write took (the write with O_DSYNC, else write + fdatasync). */
  readonly onSync: ((seconds: number) => void) | undefined;
}

/** Largest record encoding buffer a WalWriter keeps for reuse; larger records allocate their own. */
const RECORD_BUFFER_KEEP_BYTES = 4 * 1024 * 1024;
/** Longest stretch of WAL replay between yields to the event loop, in ms. */
const REPLAY_SLICE_MS = 8;

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
  let tornEnd = 0;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    if (i > 0 && seq !== (seqs[i - 1] as number) + 1) corrupt(join(cfg.dir, segmentFileName(seq)), 0, `segment ${(seqs[i - 1] as number) + 1} is missing`);
    const file = join(cfg.dir, segmentFileName(seq));
    // Asynchronous: a member starts inside its host's process, whose event loop must keep
    // turning while a 64 MiB segment is read (a synchronous read held it ≈ 100 ms per segment).
    const buf = await fs.promises.readFile(file);
    const last = i === seqs.length - 1;
    const header = readHeader(buf, file, seq, cfg.maxRecordBytes);
    visit.header(header.value, file, i === 0);
    segments.push({ seq, prevIndex: header.value.prevIndex });
    if (last && buf.length < header.value.segmentBytes) {
      corrupt(file, buf.length, `live segment is ${buf.length} bytes, shorter than its preallocated ${header.value.segmentBytes} (truncated)`);
    }
    const r = await scanRecords(buf, header.next, file, last, cfg, visit);
    tailOffset = r.end;
    truncated = r.torn;
    if (r.torn) tornEnd = lastNonZero(buf) + 1;
  }
  return { segments, tailOffset, truncated, tornEnd };
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

/**
 * Checks and decodes the records of one segment, yielding to the event loop every
 * {@link REPLAY_SLICE_MS} (checksums and decoding cost ≈ 3 ms per MiB: a whole segment in one
 * go would hold the host's event loop for a quarter of a second).
 */
async function scanRecords(
  buf: Buffer,
  start: number,
  file: string,
  last: boolean,
  cfg: WalConfig,
  visit: ReplayVisitor,
): Promise<{ end: number; torn: boolean }> {
  let off = start;
  let sliceStart = performance.now();
  for (;;) {
    if (performance.now() - sliceStart >= REPLAY_SLICE_MS) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
    const r = readFrame(buf, off, buf.length, cfg.maxRecordBytes);
    if (r.kind === 'end') {
      // A closed segment normally ends at its last record; a zeroed rest is left when a crash
      // came between creating the next segment and trimming this one. Records lost from a
      // closed segment's end are caught by the next segment's header, which names the log end.
      return { end: off, torn: false };
    }
    if (r.kind === 'bad') {
      if (!last) corrupt(file, r.start, r.reason);
      const why = tornEvidence(buf, r, cfg.maxRecordBytes);
      if (why === undefined) corrupt(file, r.start, `${r.reason}; not a torn write (no evidence of unwritten sectors, or data follows)`);
      cfg.warn({ file, offset: r.start, reason: r.reason, evidence: why, bytes: buf.length - off }, 'storage: truncating a torn record at the WAL tail');
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

function lastNonZero(buf: Uint8Array): number {
  for (let i = buf.length - 1; i >= 0; i--) if (buf[i] !== 0) return i;
  return -1;
}

/** End of the sector piece that contains byte `position`. */
function sectorEnd(position: number): number {
  return (Math.floor(position / SECTOR_BYTES) + 1) * SECTOR_BYTES;
}

/**
 * Decides whether the bad record `r` (in the last segment) is a write torn by a crash, and says
 * why; `undefined` means it is corruption. The crash model: writes are serialized and each is one
 * record into zero-filled, preallocated space, never growing the file; a write cut short by power
 * loss leaves each 512-byte sector piece of it either written or still zero. A frame header never
 * crosses a sector boundary, so it is either whole (its checksum holds) or all zeros. Evidence:
 * - the frame header is all zeros, and so is the rest of its sector piece (the record's first
 *   sector never reached the disk); or
 * - the frame header is valid, so the record's length is the writer's, only zeros follow the
 *   record, and one of its sector pieces after the first is all zeros.
 * And in both cases no valid record starts after the evidence (writes are serialized).
 * None of this can be forged by a few bit flips elsewhere: a damaged header fails its checksum
 * (any 1–6 flipped bits in its 13 bytes are detected) rather than reading as zeros or as another
 * length, and a record that is not the last has a non-zero record after it.
 */
function tornEvidence(buf: Buffer, r: FrameResult & { kind: 'bad' }, maxRecordBytes: number): string | undefined {
  const size = buf.length;
  if (r.header === 'invalid') return undefined;
  if (r.header === 'valid') {
    if (!isZero(buf, r.next, size)) return undefined; // then nothing valid follows either
    for (let piece = sectorEnd(r.start); piece < r.next; piece += SECTOR_BYTES) {
      if (isZero(buf, piece, Math.min(r.next, piece + SECTOR_BYTES))) return `zeroed sector piece at ${piece}`;
    }
    return undefined;
  }
  const firstPieceEnd = Math.min(size, sectorEnd(r.start));
  if (!isZero(buf, r.start, firstPieceEnd)) return undefined;
  // Inside the zero piece no record can start (its header would be zeros or cross the boundary).
  for (let y = firstPieceEnd; y < size; y++) {
    const type = buf[y + 8];
    if (type !== RECORD_BATCH && type !== RECORD_SEGMENT_HEADER) continue; // cannot start a record
    if (isValidFrameAt(buf, y, size, maxRecordBytes)) return undefined;
  }
  return 'zero frame header and first sector piece';
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
  /**
   * Bytes [#offset, #zeroedEnd) were written as zeros (allocated, durable), so appends there are
   * plain overwrites; after it the file may be a hole (see ZERO_CHUNK_BYTES). Never below #offset.
   */
  #zeroedEnd: number;
  /**
   * Size of the live segment file, as preallocated. A record that does not fit goes to a new
   * segment preallocated to hold it, so no write ever grows a file. Not `cfg.segmentBytes`: a
   * segment resumed after a restart with a larger option keeps the size it was preallocated to.
   */
  #capacity: number;
  readonly #segments: SegmentInfo[];
  /** Reused record encoding buffer (see #recordBuffer). */
  #scratch: Buffer = Buffer.alloc(0);

  private constructor(cfg: WalConfig, fd: number, seq: number, offset: number, capacity: number, segments: SegmentInfo[]) {
    this.#cfg = cfg;
    this.#fd = fd;
    this.#seq = seq;
    this.#offset = offset;
    this.#zeroedEnd = offset;
    this.#capacity = capacity;
    this.#segments = segments;
  }

  /** Creates segment 0 of an empty WAL. */
  static async create(cfg: WalConfig, header: SegmentHeader): Promise<WalWriter> {
    const { fd, headerEnd, size } = await createSegment(cfg, header, 0);
    return new WalWriter(cfg, fd, header.seq, headerEnd, size, [{ seq: header.seq, prevIndex: header.prevIndex }]);
  }

  /** Reopens the last replayed segment for appending, zeroing anything after `tailOffset`. */
  static async resume(cfg: WalConfig, replay: ReplayResult): Promise<WalWriter> {
    const tail = replay.segments[replay.segments.length - 1];
    if (tail === undefined) throw new Error('storage: assertion failed: resume without segments');
    const fd = await openFile(join(cfg.dir, segmentFileName(tail.seq)), fs.constants.O_RDWR | O_DSYNC);
    let capacity: number;
    try {
      capacity = await fileSize(fd);
      if (replay.truncated && replay.tornEnd > replay.tailOffset) {
        // Zero the torn record in place (never shrink the file: see SegmentHeader.segmentBytes).
        await writeAll(fd, Buffer.alloc(replay.tornEnd - replay.tailOffset), replay.tailOffset);
        if (O_DSYNC === 0) await fdatasync(fd);
      }
    } catch (err) {
      await closeFd(fd).catch(() => undefined);
      throw err;
    }
    return new WalWriter(cfg, fd, tail.seq, replay.tailOffset, capacity, replay.segments.slice());
  }

  get segments(): readonly SegmentInfo[] {
    return this.#segments;
  }

  /**
   * Writes `items` (whose encodings take `payloadBytes`, see batchItemBytes) as one batch record
   * with one write and one fdatasync. `cut` supplies the header of a new segment if the record
   * does not fit in the current one (even an empty one: the new segment is preallocated to hold
   * it, so the write never grows a file).
   */
  async append(items: readonly BatchItem[], payloadBytes: number, cut: (seq: number) => SegmentHeader): Promise<void> {
    const bytes = FRAME_HEADER_BYTES + payloadBytes;
    if (frameStart(this.#offset) + bytes > this.#capacity) await this.#rotate(cut(this.#seq + 1), bytes);
    const start = frameStart(this.#offset);
    const record = this.#recordBuffer(bytes);
    let end = FRAME_HEADER_BYTES;
    for (const item of items) end = writeBatchItem(item, record, end);
    assert(end === bytes, `encoded ${end} of ${bytes} record bytes`);
    sealFrame(record, RECORD_BATCH, payloadBytes);
    const onSync = this.#cfg.onSync;
    const startedAt = onSync === undefined ? 0 : performance.now();
    await writeAll(this.#fd, record, start);
    if (O_DSYNC === 0) await fdatasync(this.#fd);
    if (onSync !== undefined) onSync((performance.now() - startedAt) / 1000);
    this.#offset = start + bytes;
    if (this.#zeroedEnd < this.#offset) this.#zeroedEnd = this.#offset;
  }

  /**
   * Writes one chunk of zeros after the zero-filled runway if it is shorter than
   * ZERO_RUNWAY_BYTES (and the segment has room); true if it wrote. Only zeros, only at or after
   * the tail, so what a crash can leave is what the file already read as; serialized with
   * append() by the same caller, so it never races a record.
   */
  async extendRunway(): Promise<boolean> {
    const from = Math.max(this.#zeroedEnd, this.#offset);
    if (from - this.#offset >= ZERO_RUNWAY_BYTES || from >= this.#capacity) return false;
    const to = Math.min(this.#capacity, from + ZERO_CHUNK_BYTES);
    zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
    const fd = this.#fd;
    await writeAll(fd, zeroChunk.subarray(0, to - from), from);
    if (O_DSYNC === 0) await fdatasync(fd);
    // A rotation cannot run meanwhile (the same caller serializes both), but stay exact anyway.
    if (fd === this.#fd) this.#zeroedEnd = Math.max(this.#zeroedEnd, to);
    return true;
  }

  /**
   * A buffer of exactly `bytes` to encode a record into. Records up to {@link RECORD_BUFFER_KEEP_BYTES}
   * reuse one buffer (appends are serialized, so it is free again when the next one starts):
   * a fresh 64 KiB allocation per group commit showed up as garbage-collector time.
   */
  #recordBuffer(bytes: number): Buffer {
    if (bytes > RECORD_BUFFER_KEEP_BYTES) return Buffer.allocUnsafe(bytes);
    if (this.#scratch.length < bytes) this.#scratch = Buffer.allocUnsafe(Math.min(RECORD_BUFFER_KEEP_BYTES, Math.max(bytes, 2 * this.#scratch.length)));
    return this.#scratch.subarray(0, bytes);
  }

  async #rotate(header: SegmentHeader, recordBytes: number): Promise<void> {
    const { fd, headerEnd, size } = await createSegment(this.#cfg, header, recordBytes);
    // Trim the old segment only once the new one exists, so the live segment is never short.
    await ftruncate(this.#fd, this.#offset);
    await fsync(this.#fd);
    const old = this.#fd;
    this.#fd = fd;
    this.#seq = header.seq;
    this.#offset = headerEnd;
    this.#zeroedEnd = headerEnd;
    this.#capacity = size;
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

/**
 * temp file → header → preallocate → fsync → rename → dir fsync; returns the open live fd. The
 * file is preallocated to `segmentBytes`, or more when a record of `recordBytes` must fit after
 * the header; the header names the size it really got.
 */
async function createSegment(cfg: WalConfig, header: SegmentHeader, recordBytes: number): Promise<{ fd: number; headerEnd: number; size: number }> {
  const tmp = join(cfg.dir, SEGMENT_TEMP);
  let size = cfg.segmentBytes;
  let payload = encodeSegmentHeader({ ...header, segmentBytes: size });
  // A larger size may encode longer (msgpack integer widths): recompute until it fits.
  while (frameStart(FRAME_HEADER_BYTES + payload.length) + recordBytes > size) {
    size = frameStart(FRAME_HEADER_BYTES + payload.length + 16) + recordBytes;
    payload = encodeSegmentHeader({ ...header, segmentBytes: size });
  }
  const record = encodeFrame(RECORD_SEGMENT_HEADER, payload);
  const headerEnd = record.length;
  const fd = await openFile(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | O_DSYNC);
  try {
    await writeAll(fd, record, 0);
    await ftruncate(fd, size);
    await fsync(fd);
    await fs.promises.rename(tmp, join(cfg.dir, segmentFileName(header.seq)));
    await fsyncDir(cfg.dir);
  } catch (err) {
    await closeFd(fd).catch(() => undefined);
    throw err;
  }
  return { fd, headerEnd, size };
}
