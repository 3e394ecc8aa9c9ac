/**
 * Backup files: one consistent application snapshot (store + membership) at an applied index.
 *
 * Format (version 1): `"QKVBAK1\n"` (8 bytes) | crc32 of the body (u32 BE) | body, where body is
 * msgpack `{ index, term, revision, data }` and `data` is the snapshot the node puts in Raft
 * snapshots. Written to a temp file, fsynced, renamed, directory fsynced.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError, InvalidArgumentError, StorageError } from '../errors.ts';
import { pack, unpack } from './codec.ts';

const MAGIC = new TextEncoder().encode('QKVBAK1\n');

export interface BackupContents {
  readonly index: number;
  readonly term: number;
  readonly revision: number;
  /** Encoded app snapshot (see codec.ts `encodeAppSnapshot`). */
  readonly data: Uint8Array;
}

export function encodeBackup(contents: BackupContents): Uint8Array {
  const body = pack({ index: contents.index, term: contents.term, revision: contents.revision, data: contents.data });
  const out = new Uint8Array(MAGIC.length + 4 + body.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, crc32(body));
  out.set(body, MAGIC.length + 4);
  return out;
}

export function decodeBackup(bytes: Uint8Array, file = '<bytes>'): BackupContents {
  if (bytes.length < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b)) {
    throw new CorruptionError(file, 0, 'not a quorumkv backup file (bad magic)');
  }
  const body = bytes.subarray(MAGIC.length + 4);
  const want = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length);
  if (crc32(body) !== want) throw new CorruptionError(file, MAGIC.length, 'backup checksum mismatch');
  const raw = unpack(body, 'backup') as Record<string, unknown> | null;
  if (raw === null || typeof raw !== 'object') throw new CorruptionError(file, MAGIC.length + 4, 'bad backup body');
  const { index, term, revision, data } = raw;
  if (typeof index !== 'number' || typeof term !== 'number' || typeof revision !== 'number' || !(data instanceof Uint8Array)) {
    throw new CorruptionError(file, MAGIC.length + 4, 'bad backup fields');
  }
  return { index, term, revision, data };
}

/** Bytes per write when progress is reported: small enough for a smooth progress line. */
const PROGRESS_CHUNK_BYTES = 1024 * 1024;

/** Writes `bytes` in chunks, reporting the bytes written after each. */
async function writeReporting(fh: FileHandle, bytes: Uint8Array, onProgress: (p: { bytes: number; totalBytes: number }) => void): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, offset, Math.min(PROGRESS_CHUNK_BYTES, bytes.length - offset));
    offset += bytesWritten;
    onProgress({ bytes: offset, totalBytes: bytes.length });
  }
}

/**
 * Writes `bytes` to `path` durably (temp file, fsync, rename, directory fsync); `onProgress`
 * hears of the bytes written so far.
 */
export async function writeFileDurably(path: string, bytes: Uint8Array, onProgress?: (p: { bytes: number; totalBytes: number }) => void): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError('node: backup path must be a non-empty string');
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w');
    try {
      if (onProgress === undefined) await fh.writeFile(bytes);
      else await writeReporting(fh, bytes, onProgress);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new StorageError(`node: cannot write backup ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function readBackup(path: string): Promise<BackupContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new StorageError(`node: cannot read backup ${path}: ${(err as Error).message}`, { cause: err });
  }
  return decodeBackup(bytes, path);
}
