/**
 * Password hashing with node:crypto's scrypt (memory-hard, in libuv's thread pool, so the event
 * loop is not held). The stored form names its parameters, `scrypt$N$r$p$salt$hash` (base64), so
 * a hash made with other parameters still verifies. Verification compares in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters: N = 2^14, r = 8, p = 1 (≈ 16 MiB, tens of ms per hash). */
const COST = 16_384;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Largest N a stored hash may name (a crafted hash must not cost a member gigabytes). */
const MAX_COST = 1 << 17;

function derive(password: string, salt: Buffer, cost: number, blockSize: number, parallelism: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N: cost, r: blockSize, p: parallelism, maxmem: 256 * cost * blockSize + 1024 * 1024 }, (err, key) => {
      if (err === null) resolve(key);
      else reject(err);
    });
  });
}

/** A new hash of `password` with a random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, COST, BLOCK_SIZE, PARALLELISM, HASH_BYTES);
  return `scrypt$${COST}$${BLOCK_SIZE}$${PARALLELISM}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

interface ParsedHash {
  readonly cost: number;
  readonly blockSize: number;
  readonly parallelism: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function parse(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [cost, blockSize, parallelism] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const hash = Buffer.from(parts[5] ?? '', 'base64');
  if (!Number.isSafeInteger(cost) || cost < 2 || cost > MAX_COST || (cost & (cost - 1)) !== 0) return undefined;
  if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > 32) return undefined;
  if (!Number.isSafeInteger(parallelism) || parallelism < 1 || parallelism > 16) return undefined;
  if (salt.length === 0 || hash.length < 16 || hash.length > 64) return undefined;
  return { cost, blockSize, parallelism, salt, hash };
}

/** Whether `password` matches `stored`; false for a malformed stored hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const p = parse(stored);
  if (p === undefined) return false;
  const got = await derive(password, p.salt, p.cost, p.blockSize, p.parallelism, p.hash.length);
  return timingSafeEqual(got, p.hash);
}

/** Whether `stored` has the shape {@link hashPassword} writes (checked when a command is decoded). */
export function isPasswordHash(stored: string): boolean {
  return parse(stored) !== undefined;
}

/** A hash no password matches, for checking an unknown user as long as a known one takes. */
export const DECOY_HASH = `scrypt$${COST}$${BLOCK_SIZE}$${PARALLELISM}$${Buffer.alloc(SALT_BYTES).toString('base64')}$${Buffer.alloc(HASH_BYTES).toString('base64')}`;
