/**
 * The few etcd v3 calls the v2-style commands are made of, over the JSON endpoint: ranges, txns
 * with compares, lease grants, and the directory probes of keys.ts's mapping.
 */
import type { ApiClient, JsonObject } from './client.ts';
import { CliError, EXIT_BAD_ARGS } from './errors.ts';
import { ancestors, b64, childPrefix, dirMarker, kvOf, MAX_KEY_DEPTH, num, prefixEnd } from './keys.ts';
import type { Kv } from './keys.ts';
import type { Format, Io } from './output.ts';

export interface CommandContext {
  readonly client: ApiClient;
  readonly format: Format;
  readonly io: Io;
}

export function revisionOf(reply: JsonObject): number {
  const h = reply['header'];
  return typeof h === 'object' && h !== null ? num((h as JsonObject)['revision']) : 0;
}

export function kvsOf(reply: JsonObject): Kv[] {
  const kvs = reply['kvs'];
  return Array.isArray(kvs) ? kvs.map(kvOf) : [];
}

/** A single key's range request body. */
export function keyRange(key: string): JsonObject {
  return { key: b64(key) };
}

/** The request body of a prefix range (the subtree of `prefix`). */
export function prefixRange(prefix: string): JsonObject {
  return { key: b64(prefix), range_end: b64(prefixEnd(prefix)) };
}

/** Keys strictly under a directory: the subtree prefix minus the marker key itself. */
export function childrenRange(dir: string): JsonObject {
  const prefix = childPrefix(dir);
  return { key: b64(dir === '/' ? prefix : `${prefix}\0`), range_end: b64(prefixEnd(prefix)) };
}

export async function getKey(ctx: CommandContext, key: string, serializable: boolean): Promise<{ kv: Kv | undefined; revision: number }> {
  const reply = await ctx.client.call('/v3/kv/range', { ...keyRange(key), serializable });
  return { kv: kvsOf(reply)[0], revision: revisionOf(reply) };
}

/** Whether `dir` is a directory: its marker exists or something lives under it. */
export async function isDir(ctx: CommandContext, dir: string): Promise<{ yes: boolean; revision: number }> {
  const reply = await ctx.client.call('/v3/kv/range', { ...prefixRange(dirMarker(dir)), limit: 1, keys_only: true });
  return { yes: dir === '/' || kvsOf(reply).length > 0, revision: revisionOf(reply) };
}

export async function hasChildren(ctx: CommandContext, dir: string): Promise<{ yes: boolean; revision: number }> {
  const reply = await ctx.client.call('/v3/kv/range', { ...childrenRange(dir), limit: 1, keys_only: true });
  return { yes: kvsOf(reply).length > 0, revision: revisionOf(reply) };
}

export async function txn(ctx: CommandContext, body: JsonObject): Promise<{ succeeded: boolean; responses: JsonObject[]; revision: number }> {
  const reply = await ctx.client.call('/v3/kv/txn', body);
  const responses = Array.isArray(reply['responses']) ? (reply['responses'] as JsonObject[]) : [];
  return { succeeded: reply['succeeded'] === true, responses, revision: revisionOf(reply) };
}

export async function grantLease(ctx: CommandContext, ttlSeconds: number): Promise<number> {
  const reply = await ctx.client.call('/v3/lease/grant', { TTL: String(ttlSeconds) });
  return num(reply['ID']);
}

/**
 * The lease a new key under `key`'s ancestors should join: the nearest ancestor directory whose
 * marker carries a lease (a `setdir --ttl` directory), else 0.
 */
export async function inheritedLease(ctx: CommandContext, key: string): Promise<number> {
  const dirs = ancestors(key);
  if (dirs.length === 0) return 0;
  if (dirs.length > MAX_KEY_DEPTH) throw new CliError(`key is deeper than ${MAX_KEY_DEPTH} levels`, EXIT_BAD_ARGS);
  const t = await txn(ctx, { success: dirs.map((d) => ({ request_range: { ...keyRange(dirMarker(d)), keys_only: true } })) });
  for (const r of t.responses) {
    const kv = kvsOf((r['response_range'] ?? {}) as JsonObject)[0];
    if (kv !== undefined && kv.lease !== 0) return kv.lease;
  }
  return 0;
}

/** The lease for a write: a fresh one for `--ttl`, else the one inherited from a TTL directory. */
export async function leaseFor(ctx: CommandContext, key: string, ttlSeconds: number | undefined): Promise<number> {
  if (ttlSeconds !== undefined && ttlSeconds > 0) return grantLease(ctx, ttlSeconds);
  return inheritedLease(ctx, key);
}

export function parseTtl(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--ttl must be a whole number of seconds, got ${raw}`, EXIT_BAD_ARGS);
  return n;
}

export function parseIndex(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`${flag} must be a non-negative integer, got ${raw}`, EXIT_BAD_ARGS);
  return n;
}
