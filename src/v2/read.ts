/**
 * GET of a v2 key: a file's node, or a directory's children (`recursive`: the whole subtree),
 * sorted by key. Reads are serializable (this member's store, as etcd's v2 reads) unless
 * `quorum=true` asks for a linearizable one. A listing keeps at most MAX_LIST_KEYS keys: a
 * recursive one the whole subtree, a flat one a key per child.
 */
import type { Json, JsonObject } from '../gateway/types.ts';
import type { KeyValue } from '../node/types.ts';
import type { V2Context, V2Reply } from './context.ts';
import { V2Error } from './errors.ts';
import { childPrefix, prefixEnd } from './keyspace.ts';
import type { NodeTtl } from './node-json.ts';
import { dirNode, fileNode } from './node-json.ts';

/** Most keys one directory listing reads (a bigger subtree is refused, not truncated). */
export const MAX_LIST_KEYS = 10_000;

export interface ReadRequest {
  readonly key: string;
  readonly recursive: boolean;
  readonly quorum: boolean;
}

/** A directory being assembled from the keys under it. */
interface DirEntry {
  readonly kind: 'dir';
  indexes: KeyValue<unknown> | undefined;
  readonly children: Map<string, Entry>;
}
type Entry = { readonly kind: 'file'; readonly kv: KeyValue<unknown> } | DirEntry;

/** The remaining TTL of a key's lease; undefined when it has none or the lease just ended. */
export async function ttlOf(ctx: V2Context, kv: KeyValue<unknown> | undefined): Promise<NodeTtl | undefined> {
  if (kv?.lease === undefined) return undefined;
  try {
    const t = await ctx.node.leaseTimeToLive(kv.lease, ctx.call);
    return { ttlMs: t.ttlMs, nowMs: Date.now() };
  } catch {
    return undefined;
  }
}

/**
 * Files and directories under `prefix`. A key with an empty path segment (`/a//b`, written over
 * v3) has no v2 name and is left out; where a file and a directory share a name, the directory
 * is listed.
 */
function buildTree(prefix: string, kvs: readonly KeyValue<unknown>[]): DirEntry {
  const root: DirEntry = { kind: 'dir', indexes: undefined, children: new Map() };
  for (const kv of kvs) {
    const rel = kv.key.slice(prefix.length);
    if (rel === '') {
      root.indexes = kv;
      continue;
    }
    const marker = rel.endsWith('/');
    const segments = (marker ? rel.slice(0, -1) : rel).split('/');
    if (segments.some((s) => s === '')) continue;
    let dir = root;
    segments.forEach((segment, i) => {
      const last = i === segments.length - 1;
      if (last && !marker) {
        if (!dir.children.has(segment)) dir.children.set(segment, { kind: 'file', kv });
        return;
      }
      let next = dir.children.get(segment);
      if (next?.kind !== 'dir') {
        next = { kind: 'dir', indexes: kv, children: new Map() };
        dir.children.set(segment, next);
      }
      if (last) next.indexes = kv;
      dir = next;
    });
  }
  return root;
}

function nodesOf(path: string, dir: DirEntry, recursive: boolean): Json[] {
  const names = [...dir.children.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => {
    const entry = dir.children.get(name) as Entry;
    const key = `${path === '/' ? '' : path}/${name}`;
    if (entry.kind === 'file') return fileNode(key, entry.kv);
    return dirNode(key, entry.indexes, recursive ? nodesOf(key, entry, true) : undefined);
  });
}

/** Keys read per page while listing one level. */
export const LIST_PAGE_KEYS = 1000;

/**
 * The keys one non-recursive listing needs: for each child directory only its first key (its
 * marker, which sorts first, or its first key), skipping the rest of its subtree, so a level
 * is listed without reading what lies below it. Bounded by MAX_LIST_KEYS keys kept.
 */
async function levelKeys(ctx: V2Context, prefix: string, consistency: 'linearizable' | 'serializable'): Promise<KeyValue<unknown>[]> {
  const end = prefixEnd(prefix);
  const out: KeyValue<unknown>[] = [];
  let start = prefix;
  for (;;) {
    const page = await ctx.node.range<unknown>({ start, end }, { ...ctx.call, consistency, limit: LIST_PAGE_KEYS });
    let next: string | undefined;
    for (const kv of page.kvs) {
      out.push(kv);
      const rel = kv.key.slice(prefix.length);
      const slash = rel.indexOf('/');
      if (slash >= 0) {
        // A child directory: the rest of its subtree is not this level's.
        next = prefixEnd(prefix + rel.slice(0, slash + 1));
        break;
      }
    }
    if (out.length > MAX_LIST_KEYS) throw new V2Error(300, `more than ${MAX_LIST_KEYS} entries under ${prefix} (MAX_LIST_KEYS)`);
    const last = page.kvs[page.kvs.length - 1];
    if (next === undefined) {
      if (!page.more || last === undefined) return out;
      next = `${last.key}\0`;
    }
    if (next >= end) return out;
    start = next;
  }
}

export async function readKey(ctx: V2Context, r: ReadRequest): Promise<V2Reply> {
  const consistency = r.quorum ? 'linearizable' : 'serializable';
  if (r.key !== '/') {
    const kv = await ctx.node.get<unknown>(r.key, { ...ctx.call, consistency });
    if (kv !== undefined) return { status: 200, body: { action: 'get', node: fileNode(r.key, kv, await ttlOf(ctx, kv)) } };
  }
  const prefix = childPrefix(r.key);
  let kvs: KeyValue<unknown>[];
  if (r.recursive) {
    kvs = (await ctx.node.range<unknown>({ prefix }, { ...ctx.call, consistency, limit: MAX_LIST_KEYS + 1 })).kvs;
    if (kvs.length > MAX_LIST_KEYS) throw new V2Error(300, `more than ${MAX_LIST_KEYS} keys under ${r.key} (MAX_LIST_KEYS)`);
  } else kvs = await levelKeys(ctx, prefix, consistency);
  if (kvs.length === 0 && r.key !== '/') throw new V2Error(100, r.key);
  const tree = buildTree(prefix, kvs);
  const ttl = await ttlOf(ctx, tree.indexes);
  const node: JsonObject = dirNode(r.key, tree.indexes ?? kvs[0], nodesOf(r.key, tree, r.recursive), ttl);
  return { status: 200, body: { action: 'get', node } };
}
