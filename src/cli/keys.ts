/**
 * The CLI's view of keys: etcd v2 key normalization (the hierarchical mapping itself lives in
 * src/v2/keyspace.ts, which the key commands reach through the v2 API) and the two encoders of
 * the v3 JSON endpoint the maintenance commands call.
 */

export { normalizeKey, prefixEnd } from '../v2/keyspace.ts';

export function b64(text: string | Uint8Array): string {
  return (typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text)).toString('base64');
}

/** A number the JSON endpoint sends as a number or a decimal string (int64 fields). */
export function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value !== '') return Number(value);
  return 0;
}
