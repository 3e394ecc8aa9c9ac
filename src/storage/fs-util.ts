/**
 * Small file-system helpers for durable writes. Callback APIs wrapped by hand: on the WAL's hot
 * path they cost measurably less than `fs/promises` FileHandles.
 */
import * as fs from 'node:fs';
import { dirname } from 'node:path';

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** Writes every buffer at `position` with one writev; loops only if the kernel wrote less. */
export async function writevAll(fd: number, buffers: readonly Buffer[], position: number): Promise<void> {
  let pending: Buffer[] = buffers.slice();
  let pos = position;
  let total = 0;
  for (const b of pending) total += b.length;
  while (total > 0) {
    const written = await new Promise<number>((resolve, reject) =>
      fs.writev(fd, pending, pos, (err, n) => (err ? reject(err) : resolve(n))),
    );
    if (written === total) return;
    total -= written;
    pos += written;
    pending = skipBytes(pending, written);
  }
}

function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** Makes a rename, create or unlink inside `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(dir, 'r', (err, f) => (err ? reject(err) : resolve(f))));
  try {
    await fsync(fd);
  } finally {
    await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates `dir` (and parents) and makes its entry durable in its parent. */
export async function ensureDir(dir: string): Promise<void> {
  const created = await fs.promises.mkdir(dir, { recursive: true });
  if (created !== undefined) await fsyncDir(dirname(dir));
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

export function ftruncate(fd: number, size: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, size, (err) => (err ? reject(err) : resolve())));
}

export function openFile(path: string, flags: number | string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, 0o644, (err, fd) => (err ? reject(err) : resolve(fd))));
}

/** Yields to the event loop so long CPU work (checksumming a snapshot) does not block reads. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
