/**
 * PUT of a v2 key or directory: set, create (`prevExist=false`), update (`prevExist=true`),
 * compareAndSwap (`prevValue`, `prevIndex`), `dir=true` and `refresh=true`. Each write is one txn
 * whose compares hold every v2 rule at once — no ancestor is a file, a file is not written over a
 * directory, the preconditions — so a concurrent writer can never slip between check and write.
 * Only when the txn fails are the keys read again, to name the rule that failed.
 */
import { cmp, op } from '../node/txn-builder.ts';
import type { Cmp, Op } from '../node/txn-builder.ts';
import type { KeyValue, PutResult } from '../node/types.ts';
import type { V2Context, V2Reply } from './context.ts';
import { reattachSubtree } from './dir-lease.ts';
import { V2Error } from './errors.ts';
import { revisionOfPrevIndex } from './indexes.ts';
import { ancestors, childPrefix, dirMarker, MAX_KEY_DEPTH } from './keyspace.ts';
import { dirNode, fileNode, valueText } from './node-json.ts';
import type { NodeTtl } from './node-json.ts';
import { markerNeeds } from './permissions.ts';

/** Times a write is tried when a concurrent change broke its compares but no v2 rule. */
export const WRITE_ATTEMPTS = 3;

export interface WriteRequest {
  readonly key: string;
  readonly value: string;
  readonly dir: boolean;
  /** Seconds; undefined or 0: no TTL (a key under a TTL directory joins the directory's lease). */
  readonly ttlSeconds: number | undefined;
  readonly prevExist: boolean | undefined;
  readonly prevValue: string | undefined;
  readonly prevIndex: number | undefined;
  readonly refresh: boolean;
  /** Extra compares that must hold (POST's in-order names); their failure is a race. */
  readonly guards?: readonly Cmp[];
}

const utf8 = new TextEncoder();

function action(r: WriteRequest): string {
  if (r.prevValue !== undefined || r.prevIndex !== undefined) return 'compareAndSwap';
  if (r.prevExist === true) return 'update';
  if (r.prevExist === false) return 'create';
  return 'set';
}

/** The compares that together are every v2 rule of the write. */
function comparesOf(r: WriteRequest, a: Ancestry): Cmp[] {
  const subtree = { prefix: childPrefix(r.key) };
  const out: Cmp[] = ancestors(r.key).map((dir) => cmp.createRevision(dir, '==', 0));
  for (const m of a.missingMarkers) out.push(cmp.createRevision(m, '==', 0));
  const mustExist = r.prevExist === true || r.prevValue !== undefined || r.prevIndex !== undefined || r.refresh;
  if (r.dir) {
    out.push(cmp.createRevision(subtree, mustExist ? '>' : '==', 0));
    if (r.prevExist === false) out.push(cmp.createRevision(r.key, '==', 0));
  } else {
    out.push(cmp.createRevision(subtree, '==', 0));
    if (mustExist) out.push(cmp.createRevision(r.key, '>', 0));
    if (r.prevExist === false) out.push(cmp.createRevision(r.key, '==', 0));
    if (r.prevValue !== undefined) out.push(cmp.value(r.key, '==', utf8.encode(r.prevValue)));
    if (r.prevIndex !== undefined) out.push(cmp.modRevision(r.key, '==', revisionOfPrevIndex(r.prevIndex)));
  }
  return [...out, ...(r.guards ?? [])];
}

/** The txn's operations: the missing ancestor markers first, then the write itself. */
function opsOf(r: WriteRequest, lease: number | undefined, a: Ancestry): Op[] {
  const markerLease = a.inheritedLease === undefined ? {} : { lease: a.inheritedLease };
  const markers = a.missingMarkers.map((m) => op.put(m, new Uint8Array(0), markerLease));
  const leased = lease === undefined ? {} : { lease };
  if (r.dir) return [...markers, op.delete(r.key), op.put(dirMarker(r.key), new Uint8Array(0), { ...leased, prevKv: true })];
  if (r.refresh) return [...markers, op.put(r.key, new Uint8Array(0), { ...leased, ignoreValue: true, prevKv: true })];
  return [...markers, op.put(r.key, utf8.encode(r.value), { ...leased, prevKv: true })];
}

/** `[want != have]` pairs of a failed compareAndSwap/compareAndDelete, as etcd words them. */
export function compareFailCause(kv: KeyValue<unknown>, prevValue: string | undefined, prevIndex: number | undefined): string {
  const have = valueText(kv.value);
  const index = kv.modRevision + 1;
  const parts: string[] = [];
  if (prevValue !== undefined && prevValue !== have) parts.push(`[${prevValue} != ${have}]`);
  if (prevIndex !== undefined && prevIndex !== index) parts.push(`[${prevIndex} != ${index}]`);
  return parts.join(' ');
}

/** Which v2 rule a failed write broke, read after the fact; undefined when none (a race). */
async function diagnose(ctx: V2Context, r: WriteRequest): Promise<V2Error | undefined> {
  const read = { ...ctx.call, consistency: 'serializable' } as const;
  for (const a of [...ancestors(r.key)].reverse()) {
    if ((await ctx.node.get(a, read)) !== undefined) return new V2Error(104, a);
  }
  const file = await ctx.node.get<unknown>(r.key, read);
  const isDir = (await ctx.node.range({ prefix: childPrefix(r.key) }, { ...read, limit: 1, keysOnly: true })).kvs.length > 0;
  const mustExist = r.prevExist === true || r.prevValue !== undefined || r.prevIndex !== undefined || r.refresh;
  if (r.prevExist === false && (file !== undefined || isDir)) return new V2Error(105, r.key);
  if (isDir && (!r.dir || !mustExist)) return new V2Error(102, r.key);
  if (mustExist && !(r.dir ? isDir : file !== undefined)) return new V2Error(100, r.key);
  if (file !== undefined && !r.dir) {
    const cause = compareFailCause(file, r.prevValue, r.prevIndex);
    if (cause !== '') return new V2Error(101, cause);
  }
  return undefined;
}

/**
 * The ancestor directories a write makes: v2 directories are nodes that outlive their children,
 * so each missing ancestor gets its marker in the write's txn (as etcd creates the intermediate
 * directories). Also the lease a key without a TTL joins: the nearest ancestor directory's.
 */
interface Ancestry {
  readonly missingMarkers: readonly string[];
  readonly inheritedLease: number | undefined;
}

async function ancestryOf(ctx: V2Context, key: string): Promise<Ancestry> {
  const dirs = ancestors(key);
  const markers = await Promise.all(dirs.map((dir) => ctx.node.get(dirMarker(dir), ctx.call)));
  const missing: string[] = [];
  let lease: number | undefined;
  markers.forEach((m, i) => {
    if (m === undefined) missing.push(dirMarker(dirs[i] as string));
    else lease ??= m.lease;
  });
  return { missingMarkers: missing, inheritedLease: lease };
}

function validate(r: WriteRequest): void {
  if (r.key === '/') throw new V2Error(107, '/');
  if (ancestors(r.key).length >= MAX_KEY_DEPTH) throw new V2Error(209, `key is deeper than ${MAX_KEY_DEPTH} levels (MAX_KEY_DEPTH)`);
  if (r.prevValue === '') throw new V2Error(201, 'prevValue');
  if (r.dir && (r.prevValue !== undefined || r.prevIndex !== undefined)) throw new V2Error(102, r.key);
  if (r.dir && r.value !== '') throw new V2Error(209, 'a directory takes no value');
  if (r.refresh && r.value !== '') throw new V2Error(209, 'A value was provided on a refresh');
  if (r.refresh && r.ttlSeconds === undefined) throw new V2Error(209, 'A TTL must be provided on a refresh');
  if (r.refresh && r.prevExist === false) throw new V2Error(209, 'refresh needs an existing key (prevExist=false given)');
}

/** One try: the txn, or the v2 error its failure means; `undefined` when a race broke it. */
async function attempt(ctx: V2Context, r: WriteRequest): Promise<V2Reply | undefined> {
  const ttl = r.ttlSeconds !== undefined && r.ttlSeconds > 0 ? r.ttlSeconds : undefined;
  const ancestry = await ancestryOf(ctx, r.key);
  // Checked here, before the lease: only now is it known which ancestor markers the txn makes.
  ctx.guard.require(markerNeeds(ancestry.missingMarkers));
  const lease = ttl !== undefined ? (await ctx.node.grantLease(ttl * 1000, ctx.call)).id : r.refresh ? undefined : ancestry.inheritedLease;
  const result = await ctx.node.txn().if(...comparesOf(r, ancestry)).then(...opsOf(r, lease, ancestry)).commit(ctx.call);
  if (!result.succeeded) {
    if (ttl !== undefined && lease !== undefined) await ctx.node.revokeLease(lease, ctx.call).catch(() => undefined);
    const err = await diagnose(ctx, r);
    if (err !== undefined) throw err;
    return undefined;
  }
  const put = result.results[ancestry.missingMarkers.length + (r.dir ? 1 : 0)] as PutResult<unknown>;
  const prev = put.prevKv;
  if (r.dir && prev !== undefined) await reattachSubtree(ctx, r.key, prev.lease, lease);
  const nodeTtl: NodeTtl | undefined = ttl === undefined ? undefined : { ttlMs: ttl * 1000, nowMs: Date.now() };
  const created: KeyValue<unknown> = { key: r.key, value: r.refresh ? (prev?.value ?? '') : r.value, createRevision: prev?.createRevision ?? result.revision, modRevision: result.revision, version: (prev?.version ?? 0) + 1 };
  const body = { action: action(r), node: r.dir ? dirNode(r.key, created, undefined, nodeTtl) : fileNode(r.key, created, nodeTtl) };
  if (prev === undefined) return { status: 201, body };
  return { status: 200, body: { ...body, prevNode: r.dir ? dirNode(r.key, prev) : fileNode(r.key, prev) } };
}

export async function writeKey(ctx: V2Context, r: WriteRequest): Promise<V2Reply | undefined> {
  validate(r);
  for (let i = 0; i < WRITE_ATTEMPTS; i++) {
    const reply = await attempt(ctx, r);
    if (reply !== undefined || r.guards !== undefined) return reply;
  }
  throw new V2Error(300, `${r.key} kept changing under ${WRITE_ATTEMPTS} attempts at writing it (WRITE_ATTEMPTS)`);
}
