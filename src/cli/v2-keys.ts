/**
 * The CLI's client of the member's etcd v2 keys API (src/v2, docs/v2.md): every key, directory
 * and watch command is a `/v2/keys` request, so the mapping onto the flat keyspace, TTL leases,
 * preconditions, indexes and errors are the API's — the CLI prints what etcdctl v2 prints for the
 * same reply. Here: the request, its error object turned into the CLI's error line, and a
 * decoder of the v2 node objects the commands print.
 */
import type { CommandContext } from './api.ts';
import type { JsonObject } from './client.ts';
import { CliError, EXIT_BAD_AUTH, EXIT_SERVER_ERROR } from './errors.ts';

export type V2Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** etcd v2's "The request requires user authentication" (a missing or wrong token). */
const V2_UNAUTHORIZED = 110;

/** The v2 keys URL of a normalized key (each segment percent-encoded). */
function keysPath(key: string): string {
  return `/v2/keys${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** A v2 reply's error object as the CLI's `Error:  100: Key not found (/a) [5]` and exit code. */
function v2Failure(status: number, body: JsonObject): CliError {
  const errorCode = typeof body['errorCode'] === 'number' ? body['errorCode'] : undefined;
  const message = typeof body['message'] === 'string' ? body['message'] : `HTTP ${status}`;
  if (errorCode === undefined) return new CliError(message, status === 401 ? EXIT_BAD_AUTH : EXIT_SERVER_ERROR);
  const cause = typeof body['cause'] === 'string' ? body['cause'] : '';
  const index = typeof body['index'] === 'number' ? body['index'] : undefined;
  const exit = errorCode === V2_UNAUTHORIZED ? EXIT_BAD_AUTH : EXIT_SERVER_ERROR;
  return new CliError(message, exit, index === undefined ? { errorCode, cause } : { errorCode, cause, index });
}

/**
 * One v2 keys request with `fields` as its query (GET, DELETE) or form (PUT, POST); the reply
 * body, or the CliError its error object means. `longPoll` marks a `wait=true` GET (no command
 * timeout; its signal ends it).
 */
export async function v2Request(ctx: CommandContext, method: V2Method, key: string, fields: Readonly<Record<string, string>>, longPoll?: { readonly signal: AbortSignal }): Promise<JsonObject> {
  const form = new URLSearchParams(fields).toString();
  const inBody = method === 'PUT' || method === 'POST';
  const path = inBody || form === '' ? keysPath(key) : `${keysPath(key)}?${form}`;
  const { status, body } = await ctx.client.v2(method, path, inBody ? form : undefined, longPoll);
  if (status === 200 || status === 201) return body;
  throw v2Failure(status, body);
}

/** The fields of a v2 node object the commands print. */
export interface V2Node {
  readonly key: string;
  readonly value: string;
  readonly dir: boolean;
  readonly modifiedIndex: number;
  readonly createdIndex: number;
  readonly ttl: number | undefined;
}

function numberField(o: JsonObject, name: string): number {
  const v = o[name];
  return typeof v === 'number' ? v : 0;
}

/** `reply[field]` (`node` or `prevNode`) decoded; undefined when the reply has none. */
export function nodeOf(reply: JsonObject, field: 'node' | 'prevNode'): V2Node | undefined {
  const raw = reply[field];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const o = raw as JsonObject;
  const ttl = o['ttl'];
  return {
    key: typeof o['key'] === 'string' ? o['key'] : '/',
    value: typeof o['value'] === 'string' ? o['value'] : '',
    dir: o['dir'] === true,
    modifiedIndex: numberField(o, 'modifiedIndex'),
    createdIndex: numberField(o, 'createdIndex'),
    ttl: typeof ttl === 'number' ? ttl : undefined,
  };
}

/** The reply's action (`set`, `delete`, `expire`, …). */
export function actionOf(reply: JsonObject): string {
  return typeof reply['action'] === 'string' ? reply['action'] : '';
}
