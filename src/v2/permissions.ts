/**
 * Which etcd v3 permissions a v2 keys operation needs (docs/v2.md, "Auth"). v2 paths are v3 keys
 * through the one keyspace mapping (keyspace.ts), so a v2 request is allowed exactly when a v3
 * request touching the same keys would be: READ on what it reads, WRITE on what it writes. A
 * directory is its prefix (`/a/`, marker included), so listing, watching recursively, deleting or
 * re-leasing a directory needs the whole prefix. Pure: the caller checks the needs against the
 * user's permission set (access.ts).
 */
import type { Access } from '../node/auth/types.ts';
import { childPrefix, dirMarker } from './keyspace.ts';

/** One permission a request needs: `access` on the key, or on every key starting with it (`prefix`). */
export interface KeyNeed {
  readonly access: Access;
  readonly key: string;
  readonly prefix: boolean;
}

/**
 * A v2 keys operation as far as permissions go:
 * - `get`: a read of the file `key`, or (`dir`, once the read found a directory) a listing of
 *   its prefix, marker included;
 * - `wait`: a long poll on `key` (and its marker), `recursive` on its whole subtree;
 * - `put`: a write of `key` (`dir`: the directory, whose subtree may move onto its new lease),
 *   `compares` when prevExist/prevValue/prevIndex read the key first; `createdMarkers` are the
 *   ancestor markers the write makes (known only once the ancestors were read);
 * - `post`: an in-order key under `dir` (its name is chosen by the member: some key of the prefix);
 * - `delete`: `key`, or (`dir`/`recursive`) the directory's prefix; `compares` as for put.
 */
export type V2Operation =
  | { readonly kind: 'get'; readonly key: string; readonly dir: boolean }
  | { readonly kind: 'wait'; readonly key: string; readonly recursive: boolean }
  | { readonly kind: 'put'; readonly key: string; readonly dir: boolean; readonly compares: boolean; readonly createdMarkers: readonly string[] }
  | { readonly kind: 'post'; readonly dir: string; readonly createdMarkers: readonly string[] }
  | { readonly kind: 'delete'; readonly key: string; readonly subtree: boolean; readonly compares: boolean };

function one(access: Access, key: string): KeyNeed {
  return { access, key, prefix: false };
}

function subtree(access: Access, dir: string): KeyNeed {
  return { access, key: childPrefix(dir), prefix: true };
}

/** WRITE on each ancestor marker a write creates. */
export function markerNeeds(createdMarkers: readonly string[]): KeyNeed[] {
  return createdMarkers.map((m) => one('write', m));
}

/** Everything `op` needs; all of it must be allowed. The root `/` has no key of its own, only its prefix. */
export function needsOf(op: V2Operation): KeyNeed[] {
  switch (op.kind) {
    case 'get':
      if (op.key === '/') return [subtree('read', '/')];
      return op.dir ? [subtree('read', op.key)] : [one('read', op.key)];
    case 'wait':
      if (op.key === '/') return [subtree('read', '/')];
      return [one('read', op.key), op.recursive ? subtree('read', op.key) : one('read', dirMarker(op.key))];
    case 'put': {
      const own = op.dir ? [one('write', op.key), subtree('write', op.key)] : [one('write', op.key)];
      const reads = op.compares ? [one('read', op.key)] : [];
      return [...own, ...reads, ...markerNeeds(op.createdMarkers)];
    }
    case 'post':
      return [subtree('write', op.dir), ...markerNeeds(op.createdMarkers)];
    case 'delete': {
      const own = op.subtree ? [one('write', op.key), subtree('write', op.key)] : [one('write', op.key)];
      return op.compares ? [...own, one('read', op.key)] : own;
    }
  }
}
