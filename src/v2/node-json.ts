/**
 * etcd v2's node objects (`{ key, value | dir, nodes, modifiedIndex, createdIndex, ttl,
 * expiration }`) built from our key-values. A directory's indexes are its marker's; a directory
 * that exists only because keys live under it reports the indexes of its first key.
 */
import type { Json, JsonObject } from '../gateway/types.ts';
import { valueBytes } from '../gateway/values.ts';
import type { KeyValue } from '../node/types.ts';
import { v2Index } from './indexes.ts';

const utf8 = new TextDecoder();

/** A value as v2 text (v2 values are strings; bytes that are not UTF-8 are shown replaced). */
export function valueText(value: unknown): string {
  return utf8.decode(valueBytes(value));
}

/** Remaining life of a node with a TTL, as etcd shows it. */
export interface NodeTtl {
  readonly ttlMs: number;
  readonly nowMs: number;
}

function addTtl(out: JsonObject, ttl: NodeTtl | undefined): JsonObject {
  if (ttl === undefined) return out;
  out['expiration'] = new Date(ttl.nowMs + ttl.ttlMs).toISOString();
  out['ttl'] = Math.max(1, Math.ceil(ttl.ttlMs / 1000));
  return out;
}

export function fileNode(key: string, kv: KeyValue<unknown>, ttl?: NodeTtl): JsonObject {
  return addTtl({ key, value: valueText(kv.value), modifiedIndex: v2Index(kv.modRevision), createdIndex: v2Index(kv.createRevision) }, ttl);
}

/** A directory node; the root has no key, as in etcd. */
export function dirNode(key: string, indexes: KeyValue<unknown> | undefined, nodes?: Json[], ttl?: NodeTtl): JsonObject {
  const out: JsonObject = key === '/' ? { dir: true } : { key, dir: true };
  if (nodes !== undefined) out['nodes'] = nodes;
  if (indexes !== undefined && key !== '/') {
    out['modifiedIndex'] = v2Index(indexes.modRevision);
    out['createdIndex'] = v2Index(indexes.createRevision);
  }
  return addTtl(out, ttl);
}

/** The node of a key deleted at `revision` (etcd leaves only its key and indexes). */
export function deletedNode(key: string, revision: number, prev: KeyValue<unknown> | undefined, dir: boolean): JsonObject {
  const out: JsonObject = { key };
  if (dir) out['dir'] = true;
  out['modifiedIndex'] = v2Index(revision);
  out['createdIndex'] = v2Index(prev?.createRevision ?? revision);
  return out;
}
