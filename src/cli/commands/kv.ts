/**
 * Key commands of etcdctl v2 — set, get, update, mk, rm — as requests to the member's etcd v2
 * keys API (src/v2, docs/v2.md): the preconditions (mk, update, --swap-with-*, --with-*), TTL
 * leases, directory rules, indexes and errors are the API's, so every index printed here is the
 * one `ETCDCTL_API=2 etcdctl` prints for the same request. This file shapes the requests and
 * prints the replies as etcdctl v2 does.
 */
import type { CommandContext } from '../api.ts';
import type { JsonObject } from '../client.ts';
import { CliError, EXIT_SERVER_ERROR } from '../errors.ts';
import { normalizeKey } from '../keys.ts';
import type { Output } from '../output.ts';
import { nodeOf, v2Request } from '../v2-keys.ts';

export interface SetOptions {
  readonly ttl?: number | undefined;
  readonly swapWithValue?: string | undefined;
  readonly swapWithIndex?: number | undefined;
}

/** The form fields of a write: the value, a TTL when given, and the preconditions. */
function writeFields(value: string, ttl: number | undefined, extra: Readonly<Record<string, string | undefined>> = {}): Record<string, string> {
  const fields: Record<string, string> = { value };
  if (ttl !== undefined && ttl > 0) fields['ttl'] = String(ttl);
  for (const [name, v] of Object.entries(extra)) if (v !== undefined) fields[name] = v;
  return fields;
}

/** A write's output: its value (etcdctl's simple format), the reply (`--json`) and a table row. */
function written(reply: JsonObject): Output {
  const node = nodeOf(reply, 'node');
  const value = node?.value ?? '';
  return { lines: [value], json: reply, table: { header: ['KEY', 'VALUE', 'MODIFIED INDEX'], rows: [[node?.key ?? '', value, String(node?.modifiedIndex ?? '')]] } };
}

export async function setCommand(ctx: CommandContext, rawKey: string, value: string, o: SetOptions): Promise<Output> {
  const fields = writeFields(value, o.ttl, { prevValue: o.swapWithValue, prevIndex: o.swapWithIndex === undefined ? undefined : String(o.swapWithIndex) });
  return written(await v2Request(ctx, 'PUT', normalizeKey(rawKey), fields));
}

export async function updateCommand(ctx: CommandContext, rawKey: string, value: string, ttl: number | undefined): Promise<Output> {
  return written(await v2Request(ctx, 'PUT', normalizeKey(rawKey), writeFields(value, ttl, { prevExist: 'true' })));
}

/** `mk key value` creates the key only if absent; `mk --in-order dir value` POSTs a queue item. */
export async function mkCommand(ctx: CommandContext, rawKey: string, value: string, o: { ttl?: number | undefined; inOrder?: boolean }): Promise<Output> {
  const key = normalizeKey(rawKey);
  if (o.inOrder === true) return written(await v2Request(ctx, 'POST', key, writeFields(value, o.ttl)));
  return written(await v2Request(ctx, 'PUT', key, writeFields(value, o.ttl, { prevExist: 'false' })));
}

export async function getCommand(ctx: CommandContext, rawKey: string, o: { consistent?: boolean }): Promise<Output> {
  const key = normalizeKey(rawKey);
  const reply = await v2Request(ctx, 'GET', key, o.consistent === true ? { quorum: 'true' } : {});
  const node = nodeOf(reply, 'node');
  if (node === undefined || node.dir) throw new CliError(`${key}: is a directory`, EXIT_SERVER_ERROR);
  return {
    lines: [node.value],
    json: reply,
    table: { header: ['KEY', 'VALUE', 'CREATED INDEX', 'MODIFIED INDEX', 'TTL'], rows: [[node.key, node.value, String(node.createdIndex), String(node.modifiedIndex), node.ttl === undefined ? '' : String(node.ttl)]] },
  };
}

export interface RmOptions {
  readonly dir?: boolean;
  readonly recursive?: boolean;
  readonly withValue?: string | undefined;
  readonly withIndex?: number | undefined;
}

/** `rm`: a key (`--with-*`: compareAndDelete), an empty directory (`--dir`) or a subtree (`--recursive`). */
export async function rmCommand(ctx: CommandContext, rawKey: string, o: RmOptions): Promise<Output> {
  const fields: Record<string, string> = {};
  if (o.dir === true) fields['dir'] = 'true';
  if (o.recursive === true) fields['recursive'] = 'true';
  if (o.withValue !== undefined) fields['prevValue'] = o.withValue;
  if (o.withIndex !== undefined) fields['prevIndex'] = String(o.withIndex);
  const reply = await v2Request(ctx, 'DELETE', normalizeKey(rawKey), fields);
  // etcdctl v2 prints the removed value of a file; a removed directory prints nothing.
  const prev = nodeOf(reply, 'prevNode');
  const file = nodeOf(reply, 'node')?.dir !== true && prev !== undefined && !prev.dir;
  return { lines: file ? [`PrevNode.Value: ${prev.value}`] : [], json: reply };
}
