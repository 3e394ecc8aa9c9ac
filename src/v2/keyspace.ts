/**
 * etcd v2's hierarchical keys mapped onto our flat, ordered keyspace (docs/v2.md, "One keyspace"):
 * - a key `/a/b` is stored as the key `/a/b`;
 * - a directory `/a` exists when its marker key `/a/` exists (made by mkdir/setdir) or when any
 *   key starts with `/a/` (made implicitly by `set /a/b`, as in v2);
 * - the children of `/a` are the keys under the prefix `/a/`, minus the marker itself;
 * - a directory TTL is a lease on the marker; keys set under it join that lease (unless they have
 *   their own TTL), so the whole subtree expires with the directory.
 * The v2 API (src/v2) and the `quorumkv` CLI both use this mapping.
 */

/** Deepest key path handled (each ancestor directory is checked in the write's txn). */
export const MAX_KEY_DEPTH = 64;

/** `testdir//a/` → `/testdir/a`; the root is `/`. */
export function normalizeKey(raw: string): string {
  const parts = raw.split('/').filter((p) => p !== '');
  return `/${parts.join('/')}`;
}

/** The marker key of a directory (`/a` → `/a/`); the root has none (its "marker" is `/`). */
export function dirMarker(dir: string): string {
  return dir === '/' ? '/' : `${dir}/`;
}

/** The prefix holding a directory's subtree (`/a` → `/a/`, root → `/`). */
export function childPrefix(dir: string): string {
  return dir === '/' ? '/' : `${dir}/`;
}

/**
 * The smallest key greater than every key starting with `prefix` (etcd's prefix range end). Keys
 * are compared as strings, so bumping the last code unit is exact; every prefix built here ends
 * in `/`, which becomes `0`.
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

/** The parent directory of a normalized key (`/a/b` → `/a`, `/a` → `/`). */
export function parentOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash <= 0 ? '/' : key.slice(0, slash);
}
