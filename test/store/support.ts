/** Helpers shared by the store's tests (event-loop gaps, tolerant apply, rejections). Not a test file. */
import * as assert from 'uvu/assert';
import { isQuorumError } from '../../src/errors.ts';
import type { Store } from '../../src/store/index.ts';
import type { Command } from '../../src/store/types.ts';

/** Runs `work` while an interval timer fires every `intervalMs`: how often it fired and the longest gap between firings. */
export async function loopGaps<T>(work: () => Promise<T>, intervalMs: number): Promise<{ result: T; fired: number; worstGapMs: number }> {
  let fired = 0;
  let last = performance.now();
  let worstGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worstGapMs = Math.max(worstGapMs, now - last);
    last = now;
    fired++;
  }, intervalMs);
  try {
    last = performance.now();
    const result = await work();
    return { result, fired, worstGapMs };
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
