/**
 * etcd's key / range_end pair (bytes) → the node's key range. No range_end: the single key;
 * range_end "\0": every key >= key (key "\0" too: the whole keyspace); range_end equal to key
 * with its last byte incremented: the prefix (recognized so a prefix whose increment is not UTF-8
 * still works); otherwise [key, range_end). quorumkv keys are UTF-8 strings: other bytes are
 * INVALID_ARGUMENT.
 */
import type { KeyRange } from '../node/types.ts';
import { GrpcError, Status } from './status.ts';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

export function keyText(bytes: Uint8Array, field: string): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new GrpcError(Status.INVALID_ARGUMENT, `etcdserver: ${field} must be UTF-8 (quorumkv keys are text)`);
  }
}

export function keyBytes(key: string): Uint8Array {
  return utf8.encode(key);
}

/** etcd's prefix end: the key with its last byte below 0xff incremented and the rest dropped. */
export function prefixEnd(key: Uint8Array): Uint8Array | undefined {
  for (let i = key.length - 1; i >= 0; i--) {
    const b = key[i] as number;
    if (b < 0xff) {
      const out = Uint8Array.from(key.subarray(0, i + 1)); // a copy (Buffer.slice would be a view)
      out[i] = b + 1;
      return out;
    }
  }
  return undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const isZero = (b: Uint8Array): boolean => b.length === 1 && b[0] === 0;

/** A request's key/range_end as a node range. An empty key is etcd's "key is not provided". */
export function rangeOfKeys(key: Uint8Array, rangeEnd: Uint8Array): KeyRange {
  if (key.length === 0) throw new GrpcError(Status.INVALID_ARGUMENT, 'etcdserver: key is not provided');
  if (rangeEnd.length === 0) return { key: keyText(key, 'key') };
  const start = isZero(key) ? '' : keyText(key, 'key');
  if (isZero(rangeEnd)) return { start };
  const pe = prefixEnd(key);
  if (pe !== undefined && !isZero(key) && equalBytes(pe, rangeEnd)) return { prefix: start };
  return { start, end: keyText(rangeEnd, 'range_end') };
}
