/**
 * POST to a v2 directory: a new key under it whose name sorts after every key already there (etcd's
 * in-order keys, a queue). The name is a 20-digit number: the v2 index the write is expected to
 * get, or one more than the largest existing name if that is larger. A guard compare — no key
 * under the directory sorts after the name — makes creation order and name order agree even with
 * concurrent posts; a post that loses that race picks the next name.
 */
import { cmp } from '../node/txn-builder.ts';
import type { V2Context, V2Reply } from './context.ts';
import { V2Error } from './errors.ts';
import { v2Index } from './indexes.ts';
import { childPrefix, prefixEnd } from './keyspace.ts';
import { writeKey } from './write.ts';

/** Names tried before a post gives up (each lost to a concurrent post). */
export const IN_ORDER_ATTEMPTS = 8;

const NAME_DIGITS = 20;

export interface PostRequest {
  readonly dir: string;
  readonly value: string;
  readonly ttlSeconds: number | undefined;
}

/** The number in the largest in-order name under `prefix`, or 0. */
async function lastNumber(ctx: V2Context, prefix: string): Promise<number> {
  const last = (await ctx.node.range({ prefix }, { ...ctx.call, limit: 1, keysOnly: true, sort: { by: 'key', order: 'desc' } })).kvs[0];
  const name = last?.key.slice(prefix.length) ?? '';
  return /^\d{20}$/.test(name) ? Number(name) : 0;
}

export async function postKey(ctx: V2Context, r: PostRequest): Promise<V2Reply> {
  const prefix = childPrefix(r.dir);
  let next = Math.max(v2Index(ctx.node.status().revision) + 1, (await lastNumber(ctx, prefix)) + 1);
  for (let i = 0; i < IN_ORDER_ATTEMPTS; i++) {
    const key = `${prefix}${String(next).padStart(NAME_DIGITS, '0')}`;
    const guard = cmp.createRevision({ start: `${key}\0`, end: prefixEnd(prefix) }, '==', 0);
    const reply = await writeKey(ctx, { key, value: r.value, dir: false, ttlSeconds: r.ttlSeconds, prevExist: false, prevValue: undefined, prevIndex: undefined, refresh: false, guards: [guard] }).catch((err: unknown) => {
      // The name was taken by a concurrent post between the choice and the txn: pick the next.
      if (err instanceof V2Error && err.errorCode === 105) return undefined;
      throw err;
    });
    if (reply !== undefined) return reply;
    next = Math.max(next + 1, v2Index(ctx.node.status().revision) + 1, (await lastNumber(ctx, prefix)) + 1);
  }
  throw new V2Error(300, `no free in-order name under ${r.dir} after ${IN_ORDER_ATTEMPTS} attempts (IN_ORDER_ATTEMPTS)`);
}
