// Shared workload of bench/scale.ts (quorumkv member process bench/scale-member.ts and the etcd
// side bench/scale-etcd.ts): the keys, the values, the load shape and the steady-state shape.
// Not a test file; nothing here is imported by src/.
import { percentileOfSorted, sorted } from './stats.ts';

/** `key/` + 27 zero-padded digits: 32 bytes. */
export const KEY_PREFIX = 'key/';
export const KEY_DIGITS = 27;
export const VALUE_BYTES = 100;
/** Operations per load txn (etcd's default --max-txn-ops and quorumkv's default maxTxnOps). */
export const TXN_OPS = 128;
/** Concurrent load workers on the one member. */
export const LOAD_WORKERS = 16;
/** Puts in flight during the steady state. */
export const STEADY_INFLIGHT = 64;
/** The default per-call timeout of quorumkv (and the etcd client's deadline in the steady state). */
export const STEADY_TIMEOUT_MS = 5_000;
/** Per-call timeout during the load: large, so a slow txn shows up in the load time, not as a failure. */
export const LOAD_TIMEOUT_MS = 600_000;
/** Retry interval of the first-read probe after a restart. */
export const PROBE_EVERY_MS = 20;
/** Event-loop stall detector: interval, and what counts as a stall (gap beyond the interval). */
export const GAP_TICK_MS = 5;
export const STALL_MS = 50;

export function keyOf(i: number): string {
  return KEY_PREFIX + String(i).padStart(KEY_DIGITS, '0');
}

/** One fixed 100-byte value (pseudo-random bytes, same every run). */
export const VALUE: Uint8Array = (() => {
  const v = new Uint8Array(VALUE_BYTES);
  let x = 0x9e3779b9;
  for (let i = 0; i < v.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = x & 0xff;
  }
  return v;
})();

/** The key the first-read probe reads after a restart (loaded, in the middle of the key space). */
export function probeKey(keys: number): string {
  return keyOf(Math.floor(keys / 2));
}

/**
 * Runs `txnCount` batches of [from, to) split into TXN_OPS-key txns, `workers` at a time;
 * `commit(start, end)` writes keys start..end-1. Resolves with elapsed ms.
 */
export async function loadKeys(keys: number, workers: number, commit: (start: number, end: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < keys) {
        const start = next;
        next = Math.min(keys, next + TXN_OPS);
        await commit(start, next);
      }
    }),
  );
  return performance.now() - t;
}

export interface SteadyResult {
  readonly puts: number;
  readonly failed: number;
  readonly failures: Record<string, number>;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Puts of the loaded keys (a stride through them, every key once per pass) with `inflight`
 * outstanding for `seconds`; a failed put is counted by its error code and the worker goes on.
 */
export async function steadyPuts(keys: number, inflight: number, seconds: number, put: (key: string) => Promise<unknown>, codeOf: (err: unknown) => string): Promise<SteadyResult> {
  const lat: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let i = 0;
  // A stride coprime with `keys` spreads consecutive puts over the key space.
  let stride = Math.max(1, Math.floor(keys * 0.618));
  while (gcd(stride, keys) !== 1) stride++;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < end) {
        const key = keyOf((i++ * stride) % keys);
        const t = performance.now();
        try {
          await put(key);
          lat.push(performance.now() - t);
        } catch (err) {
          failed++;
          const code = codeOf(err);
          failures[code] = (failures[code] ?? 0) + 1;
        }
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  const ascending = sorted(lat);
  return { puts: lat.length, failed, failures, elapsedMs, p50Ms: percentileOfSorted(ascending, 50), p99Ms: percentileOfSorted(ascending, 99), maxMs: ascending[ascending.length - 1] ?? NaN };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Recursive size in bytes of the files under `dir` (du -sb without the directories' own blocks). */
export async function dirBytes(dir: string): Promise<number> {
  const { readdir, lstat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += await dirBytes(p);
    else total += (await lstat(p).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/** VmRSS of a process in bytes (Linux /proc), or undefined. */
export async function rssOf(pid: number): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    const m = /VmRSS:\s*(\d+)\s*kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}
