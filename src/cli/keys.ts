/**
 * The CLI's view of etcd v2's keys: the hierarchical mapping itself lives in src/v2/keyspace.ts
 * (shared with the v2 HTTP API); here are the decoders of the v3 JSON replies the CLI reads.
 */

export { ancestors, childPrefix, dirMarker, MAX_KEY_DEPTH, normalizeKey, prefixEnd } from '../v2/keyspace.ts';

export function b64(text: string | Uint8Array): string {
  return (typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text)).toString('base64');
}

export function unb64(text: unknown): string {
  return typeof text === 'string' ? Buffer.from(text, 'base64').toString('utf8') : '';
}

export function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value !== '') return Number(value);
  return 0;
}

/** A key-value as the endpoint returns it, decoded. */
export interface Kv {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
}

export function kvOf(raw: unknown): Kv {
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  return {
    key: unb64(o['key']),
    value: unb64(o['value']),
    createRevision: num(o['create_revision']),
    modRevision: num(o['mod_revision']),
    version: num(o['version']),
    lease: num(o['lease']),
  };
}

/** etcd v2's node JSON (`--json` output). */
export function v2Node(kv: Kv, ttlSeconds?: number): Record<string, unknown> {
  const out: Record<string, unknown> = { key: kv.key, value: kv.value, modifiedIndex: kv.modRevision, createdIndex: kv.createRevision };
  if (ttlSeconds !== undefined && ttlSeconds > 0) out['ttl'] = ttlSeconds;
  return out;
}
