/**
 * Directory commands of etcdctl v2 — mkdir, setdir, updatedir, rmdir, ls — on the prefix mapping
 * of keys.ts. A directory TTL is a lease on the marker key; setdir/updatedir move the keys of the
 * subtree that had no lease (or the directory's previous one) onto the new lease, so the whole
 * subtree expires together.
 */
import type { JsonObject } from '../client.ts';
import { getKey, isDir, kvsOf, leaseFor, revisionOf, txn } from '../api.ts';
import type { CommandContext } from '../api.ts';
import { CliError, EXIT_SERVER_ERROR } from '../errors.ts';
import { b64, childPrefix, dirMarker, normalizeKey, prefixEnd } from '../keys.ts';
import type { Output } from '../output.ts';
import { quiet } from '../output.ts';
import { removeDir } from './kv.ts';

/** Keys fetched per page while listing. */
export const LS_PAGE_KEYS = 1000;
/** Most keys `ls --recursive` or a TTL re-attach walks before refusing. */
export const LS_MAX_KEYS = 100_000;
/** Puts per txn when moving a subtree onto a directory's lease (below the node's maxTxnOps). */
export const REATTACH_BATCH = 100;

function dirJson(action: string, key: string, revision: number, ttl: number | undefined): unknown {
  const node: Record<string, unknown> = { key, dir: true, modifiedIndex: revision, createdIndex: revision };
  if (ttl !== undefined && ttl > 0) node['ttl'] = ttl;
  return { action, node };
}

export async function mkdirCommand(ctx: CommandContext, rawKey: string, ttl: number | undefined): Promise<Output> {
  const key = normalizeKey(rawKey);
  const d = await isDir(ctx, key);
  if (d.yes) throw CliError.v2(105, key, d.revision);
  const lease = await leaseFor(ctx, key, ttl);
  const marker: JsonObject = { key: b64(dirMarker(key)) };
  if (lease !== 0) marker['lease'] = String(lease);
  const t = await txn(ctx, {
    compare: [
      { key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: '0' },
      { key: b64(dirMarker(key)), target: 'CREATE', result: 'EQUAL', create_revision: '0' },
    ],
    success: [{ request_put: marker }],
  });
  if (!t.succeeded) throw CliError.v2(105, key, t.revision);
  return quiet(dirJson('create', key, t.revision, ttl));
}

/** Every key of `dir`'s subtree with its lease, page by page (bounded by LS_MAX_KEYS). */
async function subtree(ctx: CommandContext, dir: string, keysOnly: boolean): Promise<{ key: string; lease: number }[]> {
  const prefix = childPrefix(dir);
  const end = b64(prefixEnd(prefix));
  const out: { key: string; lease: number }[] = [];
  let start = prefix;
  for (;;) {
    const reply = await ctx.client.call('/v3/kv/range', { key: b64(start), range_end: end, limit: LS_PAGE_KEYS, keys_only: keysOnly });
    const kvs = kvsOf(reply);
    for (const kv of kvs) out.push({ key: kv.key, lease: kv.lease });
    if (out.length > LS_MAX_KEYS) throw new CliError(`more than ${LS_MAX_KEYS} keys under ${dir}`, EXIT_SERVER_ERROR);
    const last = kvs[kvs.length - 1];
    if (reply['more'] !== true || last === undefined) return out;
    start = `${last.key}\0`;
  }
}

async function setDirLease(ctx: CommandContext, key: string, ttl: number | undefined, action: string): Promise<Output> {
  const old = await getKey(ctx, dirMarker(key), false);
  const oldLease = old.kv?.lease ?? 0;
  const lease = await leaseFor(ctx, key, ttl);
  const marker: JsonObject = { key: b64(dirMarker(key)) };
  if (lease !== 0) marker['lease'] = String(lease);
  const reply = await ctx.client.call('/v3/kv/put', marker);
  if (lease !== oldLease) {
    const movers = (await subtree(ctx, key, true)).filter((kv) => kv.key !== dirMarker(key) && (kv.lease === 0 || kv.lease === oldLease));
    for (let i = 0; i < movers.length; i += REATTACH_BATCH) {
      const batch = movers.slice(i, i + REATTACH_BATCH).map((kv) => {
        const put: JsonObject = { key: b64(kv.key), ignore_value: true };
        if (lease !== 0) put['lease'] = String(lease);
        return { request_put: put };
      });
      await txn(ctx, { success: batch });
    }
  }
  return quiet(dirJson(action, key, revisionOf(reply), ttl));
}

export async function setdirCommand(ctx: CommandContext, rawKey: string, ttl: number | undefined): Promise<Output> {
  const key = normalizeKey(rawKey);
  const file = await getKey(ctx, key, false);
  if (file.kv !== undefined) throw CliError.v2(102, key, file.revision);
  return setDirLease(ctx, key, ttl, 'set');
}

export async function updatedirCommand(ctx: CommandContext, rawKey: string, ttl: number | undefined): Promise<Output> {
  const key = normalizeKey(rawKey);
  const file = await getKey(ctx, key, false);
  if (file.kv !== undefined) throw CliError.v2(104, key, file.revision);
  const d = await isDir(ctx, key);
  if (!d.yes) throw CliError.v2(100, key, d.revision);
  return setDirLease(ctx, key, ttl, 'update');
}

export async function rmdirCommand(ctx: CommandContext, rawKey: string): Promise<Output> {
  return removeDir(ctx, normalizeKey(rawKey));
}

interface Entry {
  readonly key: string;
  readonly dir: boolean;
}

/** Immediate children of `dir`, skipping over each child directory's subtree. */
async function children(ctx: CommandContext, dir: string): Promise<Entry[]> {
  const prefix = childPrefix(dir);
  const end = b64(prefixEnd(prefix));
  const found = new Map<string, boolean>();
  let start = prefix;
  for (;;) {
    const reply = await ctx.client.call('/v3/kv/range', { key: b64(start), range_end: end, limit: LS_PAGE_KEYS, keys_only: true });
    const kvs = kvsOf(reply);
    let lastChild: Entry | undefined;
    for (const kv of kvs) {
      const rel = kv.key.slice(prefix.length);
      if (rel === '') continue;
      const slash = rel.indexOf('/');
      lastChild = { key: prefix + (slash < 0 ? rel : rel.slice(0, slash)), dir: slash >= 0 };
      found.set(lastChild.key, (found.get(lastChild.key) ?? false) || lastChild.dir);
    }
    const last = kvs[kvs.length - 1];
    if (reply['more'] !== true || last === undefined) break;
    start = lastChild?.dir === true ? prefixEnd(`${lastChild.key}/`) : `${last.key}\0`;
    if (found.size > LS_MAX_KEYS) throw new CliError(`more than ${LS_MAX_KEYS} entries under ${dir}`, EXIT_SERVER_ERROR);
  }
  return [...found].map(([key, isDirectory]) => ({ key, dir: isDirectory }));
}

/** Every directory and key under `dir`, depth first, children in key order. */
async function tree(ctx: CommandContext, dir: string): Promise<Entry[]> {
  const prefix = childPrefix(dir);
  const kids = new Map<string, Map<string, boolean>>();
  const add = (parent: string, child: string, isDirectory: boolean): void => {
    const m = kids.get(parent) ?? new Map<string, boolean>();
    kids.set(parent, m);
    m.set(child, (m.get(child) ?? false) || isDirectory);
  };
  for (const { key } of await subtree(ctx, dir, true)) {
    const parts = key.slice(prefix.length).split('/');
    let parent = dir;
    parts.forEach((part, i) => {
      if (part === '') return;
      const path = `${parent === '/' ? '' : parent}/${part}`;
      add(parent, path, i < parts.length - 1);
      parent = path;
    });
  }
  const out: Entry[] = [];
  const walk = (parent: string): void => {
    for (const [key, isDirectory] of [...(kids.get(parent) ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      out.push({ key, dir: isDirectory });
      if (isDirectory) walk(key);
    }
  };
  walk(dir);
  return out;
}

export interface LsOptions {
  readonly sort?: boolean;
  readonly recursive?: boolean;
  readonly p?: boolean;
}

export async function lsCommand(ctx: CommandContext, rawKey: string | undefined, o: LsOptions): Promise<Output> {
  const dir = normalizeKey(rawKey ?? '/');
  const d = await isDir(ctx, dir);
  if (!d.yes) {
    const file = await getKey(ctx, dir, true);
    if (file.kv === undefined) throw CliError.v2(100, dir, file.revision);
    return { lines: [dir], json: { action: 'get', node: { key: dir, value: file.kv.value } }, table: { header: ['KEY', 'DIR'], rows: [[dir, 'false']] } };
  }
  let entries = o.recursive === true ? await tree(ctx, dir) : await children(ctx, dir);
  if (o.sort === true && o.recursive !== true) entries = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const name = (e: Entry): string => (o.p === true && e.dir ? `${e.key}/` : e.key);
  return {
    lines: entries.map(name),
    json: { action: 'get', node: { key: dir, dir: true, nodes: entries.map((e) => (e.dir ? { key: e.key, dir: true } : { key: e.key })) } },
    table: { header: ['KEY', 'DIR'], rows: entries.map((e) => [e.key, String(e.dir)]) },
  };
}
