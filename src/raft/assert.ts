/**
 * Invariant checks for the Raft core. A failed assertion is a programmer error: it stops the
 * member (it is never caught and ignored). Operating errors are typed errors, never assertions.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`raft: assertion failed: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
