/**
 * Directory commands of etcdctl v2 — mkdir, setdir, updatedir, rmdir, ls — as requests to the
 * member's etcd v2 keys API (src/v2, docs/v2.md), which holds the directory mapping, its TTL
 * leases and its errors; this file only shapes the requests and prints the replies.
 */
import type { CommandContext } from '../api.ts';
import type { JsonObject } from '../client.ts';
import { CliError } from '../errors.ts';
import { normalizeKey } from '../keys.ts';
import type { Output } from '../output.ts';
import { quiet } from '../output.ts';
import { v2Request } from '../v2-keys.ts';

function dirFields(ttl: number | undefined, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return ttl !== undefined && ttl > 0 ? { dir: 'true', ttl: String(ttl), ...extra } : { dir: 'true', ...extra };
}

export async function mkdirCommand(ctx: CommandContext, rawKey: string, ttl: number | undefined): Promise<Output> {
  return quiet(await v2Request(ctx, 'PUT', normalizeKey(rawKey), dirFields(ttl, { prevExist: 'false' })));
}

/** Creates the directory, or (unlike etcd, which answers 102) sets the TTL of an existing one. */
export async function setdirCommand(ctx: CommandContext, rawKey: string, ttl: number | undefined): Promise<Output> {
  const key = normalizeKey(rawKey);
  try {
    return quiet(await v2Request(ctx, 'PUT', key, dirFields(ttl)));
  } catch (err) {
    if (!(err instanceof CliError) || err.errorCode !== 102) throw err;
    const listing = await v2Request(ctx, 'GET', key, {}).catch(() => undefined);
    const node = listing?.['node'] as JsonObject | undefined;
    if (node?.['dir'] !== true) throw err;
    return quiet(await v2Request(ctx, 'PUT', key, dirFields(ttl, { prevExist: 'true' })));
  }
}

export async function updatedirCommand(ctx: CommandContext, rawKey: string, ttl: number | undefined): Promise<Output> {
  return quiet(await v2Request(ctx, 'PUT', normalizeKey(rawKey), dirFields(ttl, { prevExist: 'true' })));
}

export async function rmdirCommand(ctx: CommandContext, rawKey: string): Promise<Output> {
  return quiet(await v2Request(ctx, 'DELETE', normalizeKey(rawKey), { dir: 'true' }));
}

interface Entry {
  readonly key: string;
  readonly dir: boolean;
}

/** The nodes of a v2 listing, depth first (children are already sorted by the API). */
function entriesOf(node: JsonObject, recursive: boolean, into: Entry[]): Entry[] {
  const nodes = Array.isArray(node['nodes']) ? (node['nodes'] as JsonObject[]) : [];
  for (const n of nodes) {
    const dir = n['dir'] === true;
    into.push({ key: String(n['key']), dir });
    if (dir && recursive) entriesOf(n, true, into);
  }
  return into;
}

export interface LsOptions {
  readonly sort?: boolean;
  readonly recursive?: boolean;
  readonly p?: boolean;
}

export async function lsCommand(ctx: CommandContext, rawKey: string | undefined, o: LsOptions): Promise<Output> {
  const dir = normalizeKey(rawKey ?? '/');
  const reply = await v2Request(ctx, 'GET', dir, { recursive: String(o.recursive === true), sorted: 'true', quorum: 'true' });
  const node = (reply['node'] ?? {}) as JsonObject;
  if (node['dir'] !== true) {
    return { lines: [dir], json: reply, table: { header: ['KEY', 'DIR'], rows: [[dir, 'false']] } };
  }
  const entries = entriesOf(node, o.recursive === true, []);
  const name = (e: Entry): string => (o.p === true && e.dir ? `${e.key}/` : e.key);
  return {
    lines: entries.map(name),
    json: { action: 'get', node: { key: dir, dir: true, nodes: entries.map((e) => (e.dir ? { key: e.key, dir: true } : { key: e.key })) } },
    table: { header: ['KEY', 'DIR'], rows: entries.map((e) => [e.key, String(e.dir)]) },
  };
}
