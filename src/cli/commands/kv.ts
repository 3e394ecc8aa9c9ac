/**
 * Key commands of etcdctl v2 — set, get, update, mk, rm — built from v3 range/put/txn calls.
 * Preconditions (mk, update, --swap-with-*, --with-*) are txn compares, so each write is one
 * atomic request; the directory checks before them are separate reads (see docs/operators.md).
 */
import type { JsonObject } from '../client.ts';
import { getKey, grantLease, hasChildren, inheritedLease, isDir, keyRange, kvsOf, leaseFor, prefixRange, revisionOf, txn } from '../api.ts';
import type { CommandContext } from '../api.ts';
import { CliError } from '../errors.ts';
import { b64, childPrefix, dirMarker, kvOf, normalizeKey, num, v2Node } from '../keys.ts';
import type { Kv } from '../keys.ts';
import type { Output } from '../output.ts';
import { quiet } from '../output.ts';

export interface SetOptions {
  readonly ttl?: number | undefined;
  readonly swapWithValue?: string | undefined;
  readonly swapWithIndex?: number | undefined;
}

/** Attempts at a free `mk --in-order` name before giving up (another writer took each one). */
export const IN_ORDER_ATTEMPTS = 8;

function putOp(key: string, value: string, lease: number): JsonObject {
  const op: JsonObject = { key: b64(key), value: b64(value), prev_kv: true };
  if (lease !== 0) op['lease'] = String(lease);
  return op;
}

function prevOf(reply: JsonObject | undefined): Kv | undefined {
  const prev = reply?.['prev_kv'];
  return prev === undefined ? undefined : kvOf(prev);
}

function written(action: string, key: string, value: string, revision: number, prev: Kv | undefined, ttl: number | undefined): Output {
  const node: Kv = { key, value, createRevision: prev?.createRevision ?? revision, modRevision: revision, version: (prev?.version ?? 0) + 1, lease: 0 };
  const json: Record<string, unknown> = { action, node: v2Node(node, ttl) };
  if (prev !== undefined) json['prevNode'] = v2Node(prev);
  return { lines: [value], json, table: { header: ['KEY', 'VALUE', 'MODIFIED INDEX'], rows: [[key, value, String(revision)]] } };
}

async function refuseDir(ctx: CommandContext, key: string, code: number): Promise<void> {
  const d = await isDir(ctx, key);
  if (d.yes) throw CliError.v2(code, key, d.revision);
}

/** A failed compare: 100 when the key is missing, else 101 with etcd v2's `[want != have]` cause. */
function compareFailed(key: string, current: Kv | undefined, revision: number, o: SetOptions): CliError {
  if (current === undefined) return CliError.v2(100, key, revision);
  const parts: string[] = [];
  if (o.swapWithValue !== undefined && o.swapWithValue !== current.value) parts.push(`${o.swapWithValue} != ${current.value}`);
  if (o.swapWithIndex !== undefined && o.swapWithIndex !== current.modRevision) parts.push(`${o.swapWithIndex} != ${current.modRevision}`);
  return CliError.v2(101, `[${parts.join('] [')}]`, revision);
}

function swapCompares(key: string, o: SetOptions): JsonObject[] {
  const compares: JsonObject[] = [];
  if (o.swapWithValue !== undefined) compares.push({ key: b64(key), target: 'VALUE', result: 'EQUAL', value: b64(o.swapWithValue) });
  if (o.swapWithIndex !== undefined) compares.push({ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(o.swapWithIndex) });
  return compares;
}

export async function setCommand(ctx: CommandContext, rawKey: string, value: string, o: SetOptions): Promise<Output> {
  const key = normalizeKey(rawKey);
  await refuseDir(ctx, key, 102);
  const lease = await leaseFor(ctx, key, o.ttl);
  const compares = swapCompares(key, o);
  if (compares.length === 0) {
    const reply = await ctx.client.call('/v3/kv/put', putOp(key, value, lease));
    return written('set', key, value, revisionOf(reply), prevOf(reply), o.ttl);
  }
  const t = await txn(ctx, { compare: compares, success: [{ request_put: putOp(key, value, lease) }], failure: [{ request_range: keyRange(key) }] });
  if (!t.succeeded) throw compareFailed(key, kvsOf((t.responses[0]?.['response_range'] ?? {}) as JsonObject)[0], t.revision, o);
  return written('compareAndSwap', key, value, t.revision, prevOf(t.responses[0]?.['response_put'] as JsonObject | undefined), o.ttl);
}

export async function updateCommand(ctx: CommandContext, rawKey: string, value: string, ttl: number | undefined): Promise<Output> {
  const key = normalizeKey(rawKey);
  await refuseDir(ctx, key, 102);
  const lease = await leaseFor(ctx, key, ttl);
  const t = await txn(ctx, {
    compare: [{ key: b64(key), target: 'CREATE', result: 'GREATER', create_revision: '0' }],
    success: [{ request_put: putOp(key, value, lease) }],
  });
  if (!t.succeeded) throw CliError.v2(100, key, t.revision);
  return written('update', key, value, t.revision, prevOf(t.responses[0]?.['response_put'] as JsonObject | undefined), ttl);
}

/** Creates `key` only if absent: one txn comparing its create revision with 0. */
async function create(ctx: CommandContext, key: string, value: string, lease: number): Promise<{ ok: boolean; revision: number }> {
  const t = await txn(ctx, {
    compare: [{ key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
    success: [{ request_put: putOp(key, value, lease) }],
  });
  return { ok: t.succeeded, revision: t.revision };
}

export async function mkCommand(ctx: CommandContext, rawKey: string, value: string, o: { ttl?: number | undefined; inOrder?: boolean }): Promise<Output> {
  const target = normalizeKey(rawKey);
  if (o.inOrder === true) return mkInOrder(ctx, target, value, o.ttl);
  await refuseDir(ctx, target, 105);
  const lease = await leaseFor(ctx, target, o.ttl);
  const r = await create(ctx, target, value, lease);
  if (!r.ok) throw CliError.v2(105, target, r.revision);
  return written('create', target, value, r.revision, undefined, o.ttl);
}

/**
 * `mk --in-order dir value`: a queue item named by the revision that creates it, zero-padded to
 * 20 digits so names sort in creation order (v2's in-order keys). A name taken by a concurrent
 * writer is retried with the next revision.
 */
async function mkInOrder(ctx: CommandContext, dir: string, value: string, ttl: number | undefined): Promise<Output> {
  const lease = ttl !== undefined && ttl > 0 ? await grantLease(ctx, ttl) : await inheritedLease(ctx, `${childPrefix(dir)}x`);
  let revision = revisionOf(await ctx.client.call('/v3/kv/range', { ...prefixRange(childPrefix(dir)), count_only: true }));
  for (let attempt = 0; attempt < IN_ORDER_ATTEMPTS; attempt++) {
    const key = `${childPrefix(dir)}${String(revision + 1).padStart(20, '0')}`;
    const r = await create(ctx, key, value, lease);
    if (r.ok) return written('create', key, value, r.revision, undefined, ttl);
    revision = Math.max(revision + 1, r.revision);
  }
  throw new CliError(`could not pick a free in-order key under ${dir} after ${IN_ORDER_ATTEMPTS} attempts`, 4);
}

export async function getCommand(ctx: CommandContext, rawKey: string, o: { consistent?: boolean }): Promise<Output> {
  const key = normalizeKey(rawKey);
  const { kv, revision } = await getKey(ctx, key, o.consistent !== true);
  if (kv === undefined) {
    const d = await isDir(ctx, key);
    if (d.yes) throw new CliError(`${key}: is a directory`, 4);
    throw CliError.v2(100, key, revision);
  }
  let ttl: number | undefined;
  if (kv.lease !== 0 && ctx.format === 'json') {
    ttl = num((await ctx.client.call('/v3/lease/timetolive', { ID: String(kv.lease) }))['TTL']);
  }
  return {
    lines: [kv.value],
    json: { action: 'get', node: v2Node(kv, ttl) },
    table: { header: ['KEY', 'VALUE', 'CREATED INDEX', 'MODIFIED INDEX', 'VERSION', 'LEASE'], rows: [[kv.key, kv.value, String(kv.createRevision), String(kv.modRevision), String(kv.version), kv.lease === 0 ? '' : kv.lease.toString(16)]] },
  };
}

export interface RmOptions {
  readonly dir?: boolean;
  readonly recursive?: boolean;
  readonly withValue?: string | undefined;
  readonly withIndex?: number | undefined;
}

function deletedOutput(action: string, key: string, revision: number, prev: Kv | undefined): Output {
  const json: Record<string, unknown> = { action, node: { key, modifiedIndex: revision, createdIndex: prev?.createRevision ?? revision } };
  if (prev !== undefined) json['prevNode'] = v2Node(prev);
  return { lines: prev === undefined || prev.key !== key ? [] : [`PrevNode.Value: ${prev.value}`], json };
}

export async function rmCommand(ctx: CommandContext, rawKey: string, o: RmOptions): Promise<Output> {
  const key = normalizeKey(rawKey);
  if (o.recursive === true) {
    const t = await txn(ctx, {
      success: [{ request_delete_range: { ...keyRange(key), prev_kv: true } }, { request_delete_range: { ...prefixRange(childPrefix(key)), prev_kv: true } }],
    });
    const deleted = t.responses.reduce((sum, r) => sum + num((r['response_delete_range'] as JsonObject | undefined)?.['deleted']), 0);
    if (deleted === 0) throw CliError.v2(100, key, t.revision);
    const prev = kvsOf({ kvs: (t.responses[0]?.['response_delete_range'] as JsonObject | undefined)?.['prev_kvs'] ?? [] })[0];
    return deletedOutput('delete', key, t.revision, prev);
  }
  if (o.dir === true) return removeDir(ctx, key);
  await refuseDir(ctx, key, 102);
  const swap: SetOptions = { swapWithValue: o.withValue, swapWithIndex: o.withIndex };
  const t = await txn(ctx, {
    compare: [{ key: b64(key), target: 'CREATE', result: 'GREATER', create_revision: '0' }, ...swapCompares(key, swap)],
    success: [{ request_delete_range: { ...keyRange(key), prev_kv: true } }],
    failure: [{ request_range: keyRange(key) }],
  });
  if (!t.succeeded) throw compareFailed(key, kvsOf((t.responses[0]?.['response_range'] ?? {}) as JsonObject)[0], t.revision, swap);
  const prev = kvsOf({ kvs: (t.responses[0]?.['response_delete_range'] as JsonObject | undefined)?.['prev_kvs'] ?? [] })[0];
  const cas = o.withValue !== undefined || o.withIndex !== undefined;
  return deletedOutput(cas ? 'compareAndDelete' : 'delete', key, t.revision, prev);
}

/** `rm --dir` / `rmdir`: an empty directory (its marker) or a plain key; 108 when not empty. */
export async function removeDir(ctx: CommandContext, key: string): Promise<Output> {
  const children = await hasChildren(ctx, key);
  if (children.yes) throw CliError.v2(108, key, children.revision);
  const t = await txn(ctx, {
    success: [{ request_delete_range: { ...keyRange(dirMarker(key)), prev_kv: true } }, { request_delete_range: { ...keyRange(key), prev_kv: true } }],
  });
  const deleted = t.responses.reduce((sum, r) => sum + num((r['response_delete_range'] as JsonObject | undefined)?.['deleted']), 0);
  if (deleted === 0) throw CliError.v2(100, key, t.revision);
  return quiet({ action: 'delete', node: { key, dir: true, modifiedIndex: t.revision } });
}
