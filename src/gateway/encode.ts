/**
 * Responses in etcd v3 gateway JSON: proto3 field names, int64 as decimal strings, bytes as
 * base64, and (as grpc-gateway does without EmitDefaults) zero values left out — so `kvs` is
 * absent from an empty range and `count` from a count of 0. Member ids are etcd-style uint64s
 * derived from the member name (FNV-1a 64), printed in decimal here and in hex by the CLI.
 */
import type { KeyValue, NodeStatus } from '../node/types.ts';
import type { JsonObject } from './types.ts';
import { valueBytes } from './values.ts';

export function b64(data: Uint8Array | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength)).toString('base64');
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** etcd-style numeric member id of a member name (stable: FNV-1a 64 of its UTF-8). */
export function memberIdOf(name: string): bigint {
  let hash = FNV_OFFSET;
  for (const byte of Buffer.from(name, 'utf8')) hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK64;
  return hash;
}

/** `{ cluster_id?, member_id, revision, raft_term }` as etcd's ResponseHeader. */
export function header(status: NodeStatus, revision?: number): JsonObject {
  const rev = revision ?? status.revision;
  const out: JsonObject = { member_id: memberIdOf(status.id).toString() };
  if (rev !== 0) out['revision'] = String(rev);
  if (status.term !== 0) out['raft_term'] = String(status.term);
  return out;
}

export function kvJson(kv: KeyValue<unknown>, keysOnly = false): JsonObject {
  const out: JsonObject = { key: b64(kv.key) };
  if (kv.createRevision !== 0) out['create_revision'] = String(kv.createRevision);
  if (kv.modRevision !== 0) out['mod_revision'] = String(kv.modRevision);
  if (kv.version !== 0) out['version'] = String(kv.version);
  if (!keysOnly) {
    const value = valueBytes(kv.value);
    if (value.length > 0) out['value'] = b64(value);
  }
  if (kv.lease !== undefined && kv.lease !== 0) out['lease'] = String(kv.lease);
  return out;
}

/** Sets `field` to a decimal string unless the number is 0 (proto3 JSON leaves defaults out). */
export function setInt(out: JsonObject, field: string, n: number | bigint): void {
  if (n !== 0 && n !== 0n) out[field] = String(n);
}
