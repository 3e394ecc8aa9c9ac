/**
 * The Raft core's assert: src/assert.ts bound to the `raft` layer, re-exported here so the core's
 * files import it from beside them.
 */
export { AssertionError, raftAssert as assert } from '../assert.ts';
