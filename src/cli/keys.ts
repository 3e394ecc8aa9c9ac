/**
 * etcd v2's hierarchical keys mapped onto a flat, ordered keyspace:
 * - a key `/a/b` is stored as the key `/a/b`;
 * - a directory `/a` exists when its marker key `/a/` exists (made by mkdir/setdir) or when any
 *   key starts with `/a/` (made implicitly by `set /a/b`, as in v2);
 * - the children of `/a` are the keys under the prefix `/a/`, minus the marker itself;
 * - a directory TTL is a lease on the marker; keys set under it join that lease (unless they have
 *   their own `--ttl`), so the whole subtree expires with the directory.
 */

/** Deepest key path the CLI handles (ancestor dirs are looked up in one txn). */
export const MAX_KEY_DEPTH = 64;

/** `testdir//a/` → `/testdir/a`; the root is `/`. */
export function normalizeKey(raw: string): string {
  const parts = raw.split('/').filter((p) => p !== '');
  return `/${parts.join('/')}`;
}

/** The marker key of a directory (`/a` → `/a/`); the root has none. */
export function dirMarker(dir: string): string {
  return dir === '/' ? '/' : `${dir}/`;
}

/** The prefix holding a directory's subtree (`/a` → `/a/`, root → `/`). */
export function childPrefix(dir: string): string {
  return dir === '/' ? '/' : `${dir}/`;
}

/**
 * The smallest key greater than every key starting with `prefix` (etcd's prefix range end). Keys
 * are compared as strings, so bumping the last code unit is exact; every prefix the CLI builds
 * ends in `/`, which becomes `0`.
 */
export function prefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (prefix === '' || last >= 0xd800) return '\0';
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/** Ancestor directories of a key, nearest first (`/a/b/c` → `/a/b`, `/a`). */
export function ancestors(key: string): string[] {
  const parts = key.split('/').filter((p) => p !== '');
  const out: string[] = [];
  for (let i = parts.length - 1; i >= 1; i--) out.push(`/${parts.slice(0, i).join('/')}`);
  return out;
}

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
