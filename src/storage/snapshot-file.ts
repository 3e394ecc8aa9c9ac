/**
 * Snapshot files: `<index:16 hex>-<term:16 hex>.snap`, laid out as
 * `magic "QKVSNAP1" | metaLength u32le | meta (msgpack) | data | crc32c u32le`, where the CRC
 * covers every byte before it and meta is `[index, term, voters, learners, dataLength]`. A file is
 * written as `<name>.tmp`, fsynced, renamed and the directory fsynced, so a crash leaves either
 * the old set of snapshots or the new one plus, at worst, a temp file removed on the next open.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { CorruptionError } from '../errors.ts';
import type { ConfState, Snapshot, SnapshotMeta } from '../protocol/types.ts';
import { crc32cUpdate } from './crc32c.ts';
import { closeFd, fileSize, fsync, fsyncDir, openFile, writeAll, yieldToLoop } from './fs-util.ts';

const MAGIC = Buffer.from('QKVSNAP1', 'latin1');
/** Bytes checksummed or written between yields to the event loop. */
const CHUNK_BYTES = 1 << 20;
/** Upper bound on the meta block (member lists); anything larger is corruption. */
const MAX_META_BYTES = 1 << 20;
/** Magic, meta length and checksum: the smallest file that can be a snapshot. */
const MIN_FILE_BYTES = MAGIC.length + 4 + 4;

const packr = new Packr({ useRecords: false });

export const SNAPSHOT_FILE_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export function snapshotFileName(index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

export interface SnapshotFileRef {
  readonly name: string;
  readonly index: number;
  readonly term: number;
}

/** Snapshot files in `dir`, oldest index first. */
export function listSnapshotFiles(names: readonly string[]): SnapshotFileRef[] {
  const out: SnapshotFileRef[] = [];
  for (const name of names) {
    const m = SNAPSHOT_FILE_RE.exec(name);
    if (m === null) continue;
    out.push({ name, index: parseInt(m[1] as string, 16), term: parseInt(m[2] as string, 16) });
  }
  return out.sort((a, b) => a.index - b.index);
}

async function crcChunked(crc: number, bytes: Uint8Array): Promise<number> {
  let c = crc;
  for (let i = 0; i < bytes.length; i += CHUNK_BYTES) {
    c = crc32cUpdate(c, bytes, i, Math.min(bytes.length, i + CHUNK_BYTES));
    if (i + CHUNK_BYTES < bytes.length) await yieldToLoop();
  }
  return c;
}

/**
 * Writes a snapshot durably (temp → fsync → rename → dir fsync) and returns its file name. The
 * data may come as consecutive parts: they are checksummed and written one after the other.
 */
export async function writeSnapshotFile(dir: string, snapMeta: SnapshotMeta, data: Uint8Array | readonly Uint8Array[]): Promise<string> {
  const { index, term, confState } = snapMeta;
  const parts: readonly Uint8Array[] = data instanceof Uint8Array ? [data] : data;
  let dataLength = 0;
  for (const p of parts) dataLength += p.length;
  const meta = packr.pack([index, term, confState.voters, confState.learners, dataLength]);
  const head = Buffer.allocUnsafe(MAGIC.length + 4);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(meta.length, MAGIC.length);
  let crc = crc32cUpdate(crc32cUpdate(0, head), meta);
  for (const p of parts) crc = await crcChunked(crc, p);
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32LE(crc, 0);

  const name = snapshotFileName(index, term);
  const tmp = join(dir, `${name}.tmp`);
  const fd = await openFile(tmp, 'w');
  try {
    await writeAll(fd, head, 0, CHUNK_BYTES);
    await writeAll(fd, meta, head.length, CHUNK_BYTES);
    let at = head.length + meta.length;
    for (const p of parts) {
      await writeAll(fd, p, at, CHUNK_BYTES);
      at += p.length;
    }
    await writeAll(fd, tail, at, CHUNK_BYTES);
    await fsync(fd);
  } finally {
    await closeFd(fd);
  }
  await fs.promises.rename(tmp, join(dir, name));
  await fsyncDir(dir);
  return name;
}

function corrupt(file: string, offset: number, detail: string): never {
  throw new CorruptionError(file, offset, detail);
}

function strings(v: unknown, file: string, what: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) corrupt(file, MAGIC.length + 4, `${what} are not strings`);
  return v as string[];
}

/**
 * Reads and verifies a snapshot file in {@link CHUNK_BYTES} reads (the event loop turns between
 * them: at 1M keys a snapshot is ≈ 175 MB); any mismatch is a {@link CorruptionError}.
 */
export async function readSnapshotFile(path: string): Promise<Snapshot> {
  const fd = await openFile(path, fs.constants.O_RDONLY);
  let buf: Buffer;
  try {
    const size = await fileSize(fd);
    if (size < MIN_FILE_BYTES) corrupt(path, 0, `file is ${size} bytes, shorter than a snapshot header`);
    buf = Buffer.allocUnsafe(size);
    await checkChunks(path, fd, size, (pos, n) => buf.subarray(pos, pos + n), () => true);
  } finally {
    await closeFd(fd);
  }
  const metaLength = buf.readUInt32LE(MAGIC.length);
  const metaStart = MAGIC.length + 4;
  const crcAt = buf.length - 4;
  if (metaLength > MAX_META_BYTES || metaLength > buf.length - MIN_FILE_BYTES) corrupt(path, MAGIC.length, `meta length ${metaLength} out of bounds`);
  let meta: unknown;
  try {
    meta = packr.unpack(buf.subarray(metaStart, metaStart + metaLength));
  } catch (err) {
    throw new CorruptionError(path, metaStart, 'undecodable meta', { cause: err });
  }
  if (!Array.isArray(meta) || meta.length !== 5) corrupt(path, metaStart, 'meta is not an array of 5');
  const [index, term, voters, learners, dataLength] = meta as unknown[];
  const dataStart = metaStart + metaLength;
  if (!isCount(index) || !isCount(term)) corrupt(path, metaStart, 'bad index or term');
  if (dataLength !== crcAt - dataStart) corrupt(path, metaStart, `data length ${String(dataLength)} does not match the file`);
  const confState: ConfState = { voters: strings(voters, path, 'voters'), learners: strings(learners, path, 'learners') };
  return { meta: { index, term, confState }, data: new Uint8Array(buf.buffer, buf.byteOffset + dataStart, crcAt - dataStart) };
}

/**
 * Checks a snapshot file's magic and checksum in {@link CHUNK_BYTES} reads, never holding the
 * file in memory nor blocking the event loop for long (retained older snapshots, verified in
 * the background after open). Throws {@link CorruptionError}; returns false if `keepGoing()`
 * turned false between reads (the storage is closing), true once the file is verified.
 */
export async function verifySnapshotFile(path: string, keepGoing: () => boolean): Promise<boolean> {
  const fd = await openFile(path, fs.constants.O_RDONLY);
  try {
    const size = await fileSize(fd);
    if (size < MIN_FILE_BYTES) corrupt(path, 0, `file is ${size} bytes, shorter than a snapshot header`);
    const scratch = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size));
    return await checkChunks(path, fd, size, (_pos, n) => scratch.subarray(0, n), keepGoing);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Reads the `size` bytes of a snapshot file chunk by chunk into the buffers `into` hands out
 * (the whole file's buffer, or one reused scratch chunk), checking the magic and the trailing
 * checksum; false when `keepGoing()` turned false between reads.
 */
async function checkChunks(path: string, fd: number, size: number, into: (pos: number, n: number) => Buffer, keepGoing: () => boolean): Promise<boolean> {
  const crcAt = size - 4;
  let crc = 0;
  for (let pos = 0; pos < crcAt; ) {
    if (!keepGoing()) return false;
    const chunk = into(pos, Math.min(CHUNK_BYTES, crcAt - pos));
    const n = await readAt(fd, chunk, chunk.length, pos);
    if (n === 0) corrupt(path, pos, 'file shrank while being read');
    if (pos === 0 && (n < MAGIC.length || !chunk.subarray(0, MAGIC.length).equals(MAGIC))) corrupt(path, 0, 'bad magic');
    crc = crc32cUpdate(crc, chunk, 0, n);
    pos += n;
  }
  const tail = into(crcAt, 4);
  if ((await readAt(fd, tail, 4, crcAt)) !== 4 || crc !== tail.readUInt32LE(0)) corrupt(path, crcAt, 'checksum mismatch');
  return true;
}

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
