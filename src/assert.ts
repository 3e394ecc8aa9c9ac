/**
 * Invariant checks for every layer. A failed assertion is a programmer error: it stops the member
 * and is never caught and ignored. Operating errors (not leader, compacted, timeout, aborted) are
 * typed errors from src/errors.ts, never assertions. Assert one condition per call (`assert(a);
 * assert(b)`, never `assert(a && b)`) so the message names the condition that broke.
 *
 * Each layer imports its own bound function (`import { raftAssert as assert } …`), so call sites
 * keep the short `assert(cond, msg)` shape while every message names the layer it came from.
 */

/** The layers whose invariants are asserted; the prefix of every assertion message. */
export type AssertLayer = 'raft' | 'mvcc' | 'watch' | 'storage' | 'node' | 'recipes' | 'limits';

/** A broken invariant. `layer` names the layer whose contract broke. */
export class AssertionError extends Error {
  readonly layer: AssertLayer;

  constructor(layer: AssertLayer, message: string) {
    super(`${layer}: assertion failed: ${message}`);
    this.name = 'AssertionError';
    this.layer = layer;
  }
}

/** The shape of a layer's assert; declared so TypeScript narrows on calls through it. */
export type Assert = (condition: unknown, message: string) => asserts condition;

/** Throws an {@link AssertionError} of `layer` unless `condition` holds. */
export function assert(condition: unknown, layer: AssertLayer, message: string): asserts condition {
  if (!condition) throw new AssertionError(layer, message);
}

function assertIn(layer: AssertLayer): Assert {
  return (condition: unknown, message: string): asserts condition => assert(condition, layer, message);
}

export const raftAssert: Assert = assertIn('raft');
export const mvccAssert: Assert = assertIn('mvcc');
export const watchAssert: Assert = assertIn('watch');
export const storageAssert: Assert = assertIn('storage');
export const nodeAssert: Assert = assertIn('node');
export const recipesAssert: Assert = assertIn('recipes');
