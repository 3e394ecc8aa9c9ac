/**
 * The segmented write-ahead log. Segment files are `<seq:16 hex>.wal`; each starts with a
 * segment-header record and then holds batch records (see record-codec.ts for framing).
 *
 * The live (last) segment is preallocated to `segmentBytes` with ftruncate, so an append
 * overwrites zeros inside the file instead of growing it and `fdatasync` does not have to
 * journal a new file size on every write. Its logical end is the first zero length field.
 * A segment is closed by truncating it to its exact size and fsyncing it; then the next one is
 * created as `wal.tmp` (header written, preallocated, fsynced), renamed into place and the
 * directory fsynced. So every closed segment ends exactly at its last record, and a segment
 * that exists always has a complete header.
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
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    if (i > 0 && seq !== (seqs[i - 1] as number) + 1) corrupt(join(cfg.dir, segmentFileName(seq)), 0, `segment ${(seqs[i - 1] as number) + 1} is missing`);
    const file = join(cfg.dir, segmentFileName(seq));
    const buf = await fs.promises.readFile(file);
    const last = i === seqs.length - 1;
    const header = readHeader(buf, file, seq, cfg.maxRecordBytes);
    visit.header(header.value, file, i === 0);
    segments.push({ seq, prevIndex: header.value.prevIndex });
    const r = scanRecords(buf, header.next, file, last, cfg, visit);
    tailOffset = r.end;
    truncated = r.torn;
    tailHeaderEnd = header.next;
  }
  return { segments, tailOffset, truncated, tailHeaderEnd };
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
      // Closed segments were truncated to their last record: zeros there are damage.
      if (!last && off !== buf.length) corrupt(file, off, 'zero bytes inside a closed segment');
      return { end: off, torn: false };
    }
    if (r.kind === 'bad') {
      if (!last) corrupt(file, off, r.reason);
      for (let y = off + 1; y < buf.length; y++) {
        const type = buf[y + 8];
        if (type !== RECORD_BATCH && type !== RECORD_SEGMENT_HEADER) continue; // fast path: cannot be a record
        if (isValidFrameAt(buf, y, buf.length, cfg.maxRecordBytes)) corrupt(file, off, `${r.reason}, with valid records after it`);
      }
      cfg.warn({ file, offset: off, reason: r.reason, bytes: buf.length - off }, 'storage: truncating a torn record at the WAL tail');
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
  readonly #segments: SegmentInfo[];

  private constructor(cfg: WalConfig, fd: number, seq: number, offset: number, headerEnd: number, segments: SegmentInfo[]) {
    this.#cfg = cfg;
    this.#fd = fd;
    this.#seq = seq;
    this.#offset = offset;
    this.#headerEnd = headerEnd;
    this.#segments = segments;
  }

  /** Creates segment 0 of an empty WAL. */
  static async create(cfg: WalConfig, header: SegmentHeader): Promise<WalWriter> {
    const { fd, headerEnd } = await createSegment(cfg, header);
    return new WalWriter(cfg, fd, header.seq, headerEnd, headerEnd, [{ seq: header.seq, prevIndex: header.prevIndex }]);
  }

  /** Reopens the last replayed segment for appending, zeroing anything after `tailOffset`. */
  static async resume(cfg: WalConfig, replay: ReplayResult): Promise<WalWriter> {
    const tail = replay.segments[replay.segments.length - 1];
    if (tail === undefined) throw new Error('storage: assertion failed: resume without segments');
    const fd = await openFile(join(cfg.dir, segmentFileName(tail.seq)), fs.constants.O_RDWR);
    try {
      const size = (await fs.promises.stat(join(cfg.dir, segmentFileName(tail.seq)))).size;
      if (replay.truncated || size < cfg.segmentBytes) {
        if (replay.truncated) await ftruncate(fd, replay.tailOffset);
        await ftruncate(fd, Math.max(cfg.segmentBytes, replay.tailOffset));
        await fsync(fd);
      }
    } catch (err) {
      await closeFd(fd).catch(() => undefined);
      throw err;
    }
    return new WalWriter(cfg, fd, tail.seq, replay.tailOffset, replay.tailHeaderEnd, replay.segments.slice());
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
    if (this.#offset > this.#headerEnd && this.#offset + bytes > this.#cfg.segmentBytes) await this.#rotate(cut(this.#seq + 1));
    const frame = encodeFrameHeader(RECORD_BATCH, payload);
    await writevAll(this.#fd, [frame, ...payload], this.#offset);
    await fdatasync(this.#fd);
    this.#offset += bytes;
  }

  async #rotate(header: SegmentHeader): Promise<void> {
    await ftruncate(this.#fd, this.#offset);
    await fsync(this.#fd);
    const { fd, headerEnd } = await createSegment(this.#cfg, header);
    const old = this.#fd;
    this.#fd = fd;
    this.#seq = header.seq;
    this.#offset = headerEnd;
    this.#headerEnd = headerEnd;
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
