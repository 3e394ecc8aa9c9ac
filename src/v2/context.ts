/** What every v2 operation gets: the node and the bounds of the node calls it makes. */
import type { JsonObject } from '../gateway/types.ts';
import type { QuorumNode } from '../node/node.ts';
import type { CallOptions } from '../node/types.ts';

export interface V2Context {
  readonly node: QuorumNode;
  /** The request's abort signal (the client hung up) and the endpoint's timeout. */
  readonly call: CallOptions;
}

/** A reply: HTTP status and etcd's JSON body (`action`, `node`, `prevNode`). */
export interface V2Reply {
  readonly status: number;
  readonly body: JsonObject;
}
