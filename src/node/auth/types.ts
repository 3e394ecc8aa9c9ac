/**
 * The nouns of etcd v3 auth (docs/auth.md): users with roles, roles with key permissions, and the
 * replicated commands that change them. Keys and range ends are bytes in etcd's encoding: an
 * empty `rangeEnd` is the single key `key`, `rangeEnd = [0]` is every key from `key` on, anything
 * else is the half-open range [key, rangeEnd).
 */

/** What a permission allows: etcd's authpb.Permission.Type (READ = 0, WRITE = 1, READWRITE = 2). */
export type PermissionType = 'read' | 'write' | 'readwrite';

/** What one request needs on its keys. */
export type Access = 'read' | 'write';

export interface Permission {
  readonly type: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

export interface AuthUser {
  readonly name: string;
  /** The scrypt hash (password.ts), or undefined for a user added with no password. */
  readonly passwordHash: string | undefined;
  /** Role names, sorted (etcd keeps them sorted; `user get` lists them in that order). */
  readonly roles: readonly string[];
}

export interface AuthRole {
  readonly name: string;
  /** Sorted by key (then range end), at most one per (key, rangeEnd). */
  readonly permissions: readonly Permission[];
}

/** The user every management call needs and who may do everything (etcd's `root`). */
export const ROOT_USER = 'root';
/** The role that grants everything (etcd's `root`). */
export const ROOT_ROLE = 'root';

/**
 * A replicated auth change. Passwords are hashed before proposing: an entry carries the hash,
 * never the password (the log and snapshots hold no secret a reader could replay).
 */
export type AuthCommand =
  | { readonly type: 'enable' }
  | { readonly type: 'disable' }
  | { readonly type: 'userAdd'; readonly name: string; readonly passwordHash: string | undefined }
  | { readonly type: 'userDelete'; readonly name: string }
  | { readonly type: 'userPassword'; readonly name: string; readonly passwordHash: string }
  | { readonly type: 'userGrant'; readonly name: string; readonly role: string }
  | { readonly type: 'userRevoke'; readonly name: string; readonly role: string }
  | { readonly type: 'roleAdd'; readonly name: string }
  | { readonly type: 'roleDelete'; readonly name: string }
  | { readonly type: 'roleGrant'; readonly name: string; readonly permission: Permission }
  | { readonly type: 'roleRevoke'; readonly name: string; readonly key: Uint8Array; readonly rangeEnd: Uint8Array };

/** What an applied auth command answers: the auth revision after it. */
export interface AuthResult {
  readonly type: 'auth';
  readonly revision: number;
}
