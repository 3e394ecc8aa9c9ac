/**
 * What a route handler receives: the node, the parsed request body, the endpoint config and the
 * per-call options (timeout + an AbortSignal that fires when the client goes away).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthIdentity } from '../node/auth/auth-api.ts';
import type { QuorumNode } from '../node/node.ts';
import type { ClientEndpointConfig, JsonObject } from './types.ts';
import type { Body } from './validate.ts';

export interface CallOptions {
  readonly signal: AbortSignal;
  readonly timeoutMs?: number;
  /** The auth revision the request was checked at (writes are refused at apply if auth changed since). */
  readonly authRevision?: number;
}

export interface RouteContext {
  readonly node: QuorumNode;
  readonly body: Body;
  readonly config: ClientEndpointConfig;
  /** This endpoint's own URL (reported as the local member's clientURLs). */
  readonly url: string;
  readonly call: CallOptions;
  /** Who is calling (gateway/access.ts; `open` while auth is disabled). */
  readonly identity: AuthIdentity;
}

/** A request/response route: returns the JSON body of a 200 reply. */
export type UnaryHandler = (ctx: RouteContext) => Promise<JsonObject>;

/** A streaming route: owns the response (newline-delimited JSON `{"result":…}` messages). */
export type StreamHandler = (ctx: RouteContext, req: IncomingMessage, res: ServerResponse) => Promise<void>;

export type Route =
  | { readonly kind: 'unary'; readonly handler: UnaryHandler }
  | { readonly kind: 'stream'; readonly handler: StreamHandler };
