/**
 * Node results → wire shapes: a KeyValue with its revisions in etcd numbering (0 stays 0, the
 * "unset" value of a deleted key's create_revision), its key as UTF-8 and its value as the bytes
 * the node holds (valueBytes: raw bytes for the raw codec, the decoded bytes for msgpack).
 */
import { valueBytes } from '../gateway/values.ts';
import type { KeyValue } from '../node/types.ts';
import { keyBytes } from './keys.ts';
import type { WireKv } from './messages-kv.ts';
import { toEtcdRev } from './revision.ts';

const EMPTY = new Uint8Array(0);

export function kvRev(ours: number): number {
  return ours === 0 ? 0 : toEtcdRev(ours);
}

export function toWireKv(kv: KeyValue<unknown>, keysOnly = false): WireKv {
  return {
    key: keyBytes(kv.key),
    createRevision: kvRev(kv.createRevision),
    modRevision: kvRev(kv.modRevision),
    version: kv.version,
    value: keysOnly ? EMPTY : valueBytes(kv.value),
    lease: kv.lease ?? 0,
  };
}
