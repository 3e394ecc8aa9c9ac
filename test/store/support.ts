/** Helpers shared by the store's tests (event-loop gaps, tolerant apply, rejections). Not a test file. */
import * as assert from 'uvu/assert';
import { isQuorumError } from '../../src/errors.ts';
import type { Store } from '../../src/store/index.ts';
import type { Command } from '../../src/store/types.ts';
import { Revision, toKeyValue } from '../../src/store/key-index.ts';

/**
 * Runs `work` while an interval timer fires every `intervalMs`: how often it fired, the longest
 * gap between firings, and the 90th-percentile gap (which one preemption of this process by a
 * busy machine cannot move, unlike the longest).
 */
export async function loopGaps<T>(work: () => Promise<T>, intervalMs: number): Promise<{ result: T; fired: number; worstGapMs: number; p90GapMs: number }> {
  let fired = 0;
  let last = performance.now();
  let worstGapMs = 0;
  const gaps: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    worstGapMs = Math.max(worstGapMs, now - last);
    gaps.push(now - last);
    last = now;
    fired++;
  }, intervalMs);
  try {
    last = performance.now();
    const result = await work();
    gaps.sort((a, b) => a - b);
    return { result, fired, worstGapMs, p90GapMs: gaps[Math.floor(gaps.length * 0.9)] ?? 0 };
  } finally {
    clearInterval(timer);
  }
}

/** Applies `cmd`, ignoring a typed rejection (random commands are often invalid on purpose). */
export function tryApply(s: Store, cmd: Command): void {
  try {
    s.apply(cmd);
  } catch (err) {
    if (!isQuorumError(err)) throw err;
  }
}

/** The error `promise` rejects with (an assertion failure if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.unreachable('should reject');
}

/**
 * `x` with every class instance (but byte arrays) turned into a plain object of its own fields,
 * deeply: point reads hand out the store's own records (class `Revision`), which read like plain
 * key-values but are not deep-equal to object literals for assert.equal (it compares constructors).
 */
export function plain<T>(x: T): T {
  if (Array.isArray(x)) return x.map((v: unknown) => plain(v)) as T;
  if (typeof x !== 'object' || x === null || x instanceof Uint8Array) return x;
  // A store record's value is a getter (key-index.ts): copy the record as the key-value it is.
  if (x instanceof Revision) return plain(toKeyValue(x.key, x)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = plain(v);
  return out as T;
}
