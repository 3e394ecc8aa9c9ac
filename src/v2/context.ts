/** What every v2 operation gets: the node, the bounds of the node calls it makes, and the caller's permission checks. */
import type { JsonObject } from '../gateway/types.ts';
import type { QuorumNode } from '../node/node.ts';
import type { CallOptions } from '../node/types.ts';
import type { KeyNeed } from './permissions.ts';

/** The caller's v3 permissions (access.ts); an operation asks it before it changes anything. */
export interface KeyGuard {
  /** Throws etcd v2's 110 unless every need is allowed. */
  require(needs: readonly KeyNeed[]): void;
}

export interface V2Context {
  readonly node: QuorumNode;
  /** The request's abort signal (the client hung up) and the endpoint's timeout. */
  readonly call: CallOptions;
  readonly guard: KeyGuard;
}

/** A reply: HTTP status and etcd's JSON body (`action`, `node`, `prevNode`). */
export interface V2Reply {
  readonly status: number;
  readonly body: JsonObject;
}
