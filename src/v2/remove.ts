/**
 * DELETE of a v2 key or directory: a file (with `prevValue`/`prevIndex`: compareAndDelete), an
 * empty directory (`dir=true`; 108 when it has children) or a whole subtree (`recursive=true`).
 * Each deletion is one txn whose compares pin what was read before it, so nothing written in
 * between is removed by mistake; a txn that lost such a race is tried again.
 */
import { cmp, op } from '../node/txn-builder.ts';
import type { DeleteResult, KeyValue } from '../node/types.ts';
import type { V2Context, V2Reply } from './context.ts';
import { V2Error } from './errors.ts';
import { revisionOfPrevIndex } from './indexes.ts';
import { childPrefix, dirMarker, prefixEnd } from './keyspace.ts';
import { deletedNode, dirNode, fileNode } from './node-json.ts';
import { compareFailCause, WRITE_ATTEMPTS } from './write.ts';

export interface RemoveRequest {
  readonly key: string;
  readonly dir: boolean;
  readonly recursive: boolean;
  readonly prevValue: string | undefined;
  readonly prevIndex: number | undefined;
}

const utf8 = new TextEncoder();

async function removeFile(ctx: V2Context, r: RemoveRequest, file: KeyValue<unknown>): Promise<V2Reply | undefined> {
  const compareAndDelete = r.prevValue !== undefined || r.prevIndex !== undefined;
  if (compareAndDelete) {
    const cause = compareFailCause(file, r.prevValue, r.prevIndex);
    if (cause !== '') throw new V2Error(101, cause);
  }
  const result = await ctx.node.txn().if(cmp.modRevision(r.key, '==', file.modRevision)).then(op.delete(r.key, { prevKv: true })).commit(ctx.call);
  if (!result.succeeded) return undefined;
  return {
    status: 200,
    body: { action: compareAndDelete ? 'compareAndDelete' : 'delete', node: deletedNode(r.key, result.revision, file, false), prevNode: fileNode(r.key, file) },
  };
}

async function removeDir(ctx: V2Context, r: RemoveRequest, first: KeyValue<unknown>): Promise<V2Reply | undefined> {
  if (r.prevValue !== undefined || r.prevIndex !== undefined) throw new V2Error(102, r.key);
  if (!r.dir && !r.recursive) throw new V2Error(102, r.key);
  const marker = dirMarker(r.key);
  const indexes = first.key === marker ? first : undefined;
  let result;
  if (r.recursive) {
    result = await ctx.node.txn().then(op.delete({ prefix: childPrefix(r.key) })).commit(ctx.call);
    if ((result.results[0] as DeleteResult<unknown>).deleted === 0) return undefined;
  } else {
    const children = { start: `${marker}\0`, end: prefixEnd(marker) };
    result = await ctx.node.txn().if(cmp.createRevision(children, '==', 0)).then(op.delete(marker)).commit(ctx.call);
    if (!result.succeeded) throw new V2Error(108, r.key);
    if ((result.results[0] as DeleteResult<unknown>).deleted === 0) return undefined;
  }
  return { status: 200, body: { action: 'delete', node: deletedNode(r.key, result.revision, indexes ?? first, true), prevNode: dirNode(r.key, indexes ?? first) } };
}

export async function removeKey(ctx: V2Context, r: RemoveRequest): Promise<V2Reply> {
  if (r.key === '/') throw new V2Error(107, '/');
  if (r.prevValue === '') throw new V2Error(201, 'prevValue');
  // Linearizable: a delete must see every write acknowledged before it, wherever it was made.
  const read = ctx.call;
  for (let i = 0; i < WRITE_ATTEMPTS; i++) {
    const file = await ctx.node.get<unknown>(r.key, read);
    let reply: V2Reply | undefined;
    if (file !== undefined) reply = await removeFile(ctx, r, file);
    else {
      const first = (await ctx.node.range<unknown>({ prefix: childPrefix(r.key) }, { ...read, limit: 1 })).kvs[0];
      if (first === undefined) throw new V2Error(100, r.key);
      reply = await removeDir(ctx, r, first);
    }
    if (reply !== undefined) return reply;
  }
  throw new V2Error(300, `${r.key} kept changing under ${WRITE_ATTEMPTS} attempts at deleting it (WRITE_ATTEMPTS)`);
}
