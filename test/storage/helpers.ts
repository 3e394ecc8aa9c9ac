// Shared helpers for the storage tests: temp dirs, a seeded PRNG, entry factories, a quiet logger.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/protocol/types.ts';

/** A logger that records warnings instead of printing them. */
export function quietLogger(): { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; warnings: string[] } {
  const warnings: string[] = [];
  return { info: () => undefined, warn: (_obj, msg) => void warnings.push(msg), warnings };
}

export function tempDir(prefix: string, base: string = tmpdir()): string {
  return mkdtempSync(join(base, `qkv-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The seeded PRNG every test shares (mulberry32, src/transport/random.ts). */
import { seededRandom as prng } from '../helpers/random.ts';
export { prng };

/** Deterministic entry content: the test can recompute what any (index, term) must hold. */
export function entryData(index: number, term: number, size = 1 + ((index * 7919 + term) % 300)): Uint8Array {
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i++) d[i] = (index * 31 + term * 17 + i) & 0xff;
  return d;
}

export function entry(index: number, term: number, size?: number): Entry {
  return { index, term, type: index % 11 === 0 ? 'confChange' : 'normal', data: entryData(index, term, size) };
}

export function entries(from: number, count: number, term: number): Entry[] {
  return Array.from({ length: count }, (_, k) => entry(from + k, term));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Seed from env `SEED` or a fresh random one; printed by the caller on failure. */
export function seedFromEnv(): number {
  const s = process.env.SEED;
  // A fixed default keeps CI deterministic; SEED=<n> explores (and replays) other seeds.
  return s !== undefined && s !== '' ? Number(s) >>> 0 : 20261125;
}

/** Asserts that `p` rejects and that `check` accepts the error (uvu has no async `rejects`). */
export async function rejects(p: Promise<unknown>, check: (err: unknown) => boolean, what = 'promise'): Promise<void> {
  let error: unknown;
  let rejected = false;
  try {
    await p;
  } catch (err) {
    rejected = true;
    error = err;
  }
  if (!rejected) throw new Error(`${what}: expected a rejection, got a resolution`);
  if (!check(error)) throw new Error(`${what}: rejected with an unexpected error: ${String(error)}`);
}
