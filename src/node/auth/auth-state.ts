/**
 * The replicated auth state (docs/auth.md): the enabled flag, users, roles and the auth revision,
 * changed only by applying {@link AuthCommand}s in log order. Applying is deterministic — no
 * clock, no randomness, maps iterated in sorted order — so every member holds the same state,
 * and a snapshot carries it as a plain record ({@link AuthState.toRecord}).
 *
 * The rules are etcd 3.4's (auth/store.go): `enable` needs user `root` with role `root`; while
 * enabled, root cannot be deleted nor lose its root role, and the root role cannot be deleted;
 * granting a role twice changes nothing; every other change bumps the revision.
 */
import { AuthError } from '../../errors.ts';
import { MAX_NAME_BYTES, MAX_PERMISSION_KEY_BYTES, MAX_PERMISSIONS_PER_ROLE, MAX_ROLES, MAX_ROLES_PER_USER, MAX_USERS } from './limits.ts';
import { compareKeys, PermissionSet } from './permission-set.ts';
import { ROOT_ROLE, ROOT_USER } from './types.ts';
import type { AuthCommand, AuthResult, AuthRole, AuthUser, Permission } from './types.ts';

/** The state as a snapshot stores it (msgpack-friendly: arrays, strings, numbers, bytes). */
export interface AuthRecord {
  readonly enabled: boolean;
  readonly revision: number;
  /** How many times auth was enabled: a token is valid only in the epoch it was issued in. */
  readonly epoch: number;
  readonly users: readonly AuthUser[];
  readonly roles: readonly AuthRole[];
}

const utf8 = new TextEncoder();

function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function comparePermissions(a: Permission, b: Permission): number {
  return compareKeys(a.key, b.key) || compareKeys(a.rangeEnd, b.rangeEnd);
}

function checkName(name: string, what: 'user' | 'role'): void {
  if (name === '') throw new AuthError(what === 'user' ? 'userEmpty' : 'roleEmpty', `${what} name is empty`);
  if (utf8.encode(name).length > MAX_NAME_BYTES) throw new AuthError('limit', `${what} name is longer than ${MAX_NAME_BYTES} bytes (limit MAX_NAME_BYTES)`);
}

export class AuthState {
  #enabled = false;
  // Invariant: revision >= 1; it grows by one with every change (etcd's auth revision).
  #revision = 1;
  #epoch = 0;
  readonly #users = new Map<string, AuthUser>();
  readonly #roles = new Map<string, AuthRole>();
  /** Merged permissions per user, rebuilt lazily after any change. */
  #permissionCache = new Map<string, PermissionSet>();

  get enabled(): boolean {
    return this.#enabled;
  }

  get revision(): number {
    return this.#revision;
  }

  get epoch(): number {
    return this.#epoch;
  }

  user(name: string): AuthUser | undefined {
    return this.#users.get(name);
  }

  role(name: string): AuthRole | undefined {
    return this.#roles.get(name);
  }

  /** User names, sorted. */
  userNames(): string[] {
    return [...this.#users.keys()].sort();
  }

  /** Role names, sorted. */
  roleNames(): string[] {
    return [...this.#roles.keys()].sort();
  }

  /** Whether `name` has the root role (and so may do everything). */
  isRoot(name: string): boolean {
    return this.#users.get(name)?.roles.includes(ROOT_ROLE) === true;
  }

  /** The keys `name` may read and write; undefined for an unknown user. */
  permissionsOf(name: string): PermissionSet | undefined {
    const cached = this.#permissionCache.get(name);
    if (cached !== undefined) return cached;
    const user = this.#users.get(name);
    if (user === undefined) return undefined;
    const perms: Permission[] = [];
    for (const r of user.roles) perms.push(...(this.#roles.get(r)?.permissions ?? []));
    const set = new PermissionSet(perms, user.roles.includes(ROOT_ROLE));
    this.#permissionCache.set(name, set);
    return set;
  }

  /**
   * Throws unless a write checked at auth revision `checkedAt` may still apply: auth is disabled,
   * or nothing changed since (etcd's ErrAuthOldRevision; clients authenticate again and retry).
   */
  checkRevision(checkedAt: number): void {
    if (this.#enabled && checkedAt < this.#revision) throw new AuthError('oldRevision', 'revision of auth store is old');
  }

  /** Applies one command; throws an {@link AuthError} (and changes nothing) when it is refused. */
  apply(cmd: AuthCommand): AuthResult {
    const changed = this.#apply(cmd);
    if (changed) {
      this.#revision += 1;
      this.#permissionCache = new Map();
    }
    return { type: 'auth', revision: this.#revision };
  }

  /** True when the state changed. */
  #apply(cmd: AuthCommand): boolean {
    switch (cmd.type) {
      case 'enable':
        return this.#enable();
      case 'disable':
        if (!this.#enabled) return false;
        this.#enabled = false;
        return true;
      case 'userAdd':
        return this.#userAdd(cmd.name, cmd.passwordHash);
      case 'userDelete':
        return this.#userDelete(cmd.name);
      case 'userPassword':
        this.#users.set(cmd.name, { ...this.#mustUser(cmd.name), passwordHash: cmd.passwordHash });
        return true;
      case 'userGrant':
        return this.#userGrant(cmd.name, cmd.role);
      case 'userRevoke':
        return this.#userRevoke(cmd.name, cmd.role);
      case 'roleAdd':
        return this.#roleAdd(cmd.name);
      case 'roleDelete':
        return this.#roleDelete(cmd.name);
      case 'roleGrant':
        return this.#roleGrant(cmd.name, cmd.permission);
      case 'roleRevoke':
        return this.#roleRevoke(cmd.name, cmd.key, cmd.rangeEnd);
    }
  }

  #enable(): boolean {
    if (this.#enabled) return false;
    const root = this.#users.get(ROOT_USER);
    if (root === undefined) throw new AuthError('rootUserMissing', 'root user does not exist');
    if (!root.roles.includes(ROOT_ROLE)) throw new AuthError('rootRoleMissing', 'root user does not have root role');
    this.#enabled = true;
    this.#epoch += 1;
    return true;
  }

  #mustUser(name: string): AuthUser {
    const user = this.#users.get(name);
    if (user === undefined) throw new AuthError('userNotFound', 'user name not found');
    return user;
  }

  #mustRole(name: string): AuthRole {
    const role = this.#roles.get(name);
    if (role === undefined) throw new AuthError('roleNotFound', 'role name not found');
    return role;
  }

  #userAdd(name: string, passwordHash: string | undefined): boolean {
    checkName(name, 'user');
    if (this.#users.has(name)) throw new AuthError('userExists', 'user name already exists');
    if (this.#users.size >= MAX_USERS) throw new AuthError('limit', `more than ${MAX_USERS} users (limit MAX_USERS)`);
    this.#users.set(name, { name, passwordHash, roles: [] });
    return true;
  }

  #userDelete(name: string): boolean {
    if (this.#enabled && name === ROOT_USER) throw new AuthError('invalidManagement', 'invalid auth management');
    this.#mustUser(name);
    this.#users.delete(name);
    return true;
  }

  #userGrant(name: string, role: string): boolean {
    const user = this.#mustUser(name);
    // The root role need not exist as a role to be granted (etcd: it is implicit).
    if (role !== ROOT_ROLE) this.#mustRole(role);
    if (user.roles.includes(role)) return false;
    if (user.roles.length >= MAX_ROLES_PER_USER) throw new AuthError('limit', `more than ${MAX_ROLES_PER_USER} roles for one user (limit MAX_ROLES_PER_USER)`);
    this.#users.set(name, { ...user, roles: [...user.roles, role].sort() });
    return true;
  }

  #userRevoke(name: string, role: string): boolean {
    if (this.#enabled && name === ROOT_USER && role === ROOT_ROLE) throw new AuthError('invalidManagement', 'invalid auth management');
    const user = this.#mustUser(name);
    if (!user.roles.includes(role)) throw new AuthError('roleNotGranted', 'role is not granted to the user');
    this.#users.set(name, { ...user, roles: user.roles.filter((r) => r !== role) });
    return true;
  }

  #roleAdd(name: string): boolean {
    checkName(name, 'role');
    if (this.#roles.has(name)) throw new AuthError('roleExists', 'role name already exists');
    if (this.#roles.size >= MAX_ROLES) throw new AuthError('limit', `more than ${MAX_ROLES} roles (limit MAX_ROLES)`);
    this.#roles.set(name, { name, permissions: [] });
    return true;
  }

  #roleDelete(name: string): boolean {
    if (this.#enabled && name === ROOT_ROLE) throw new AuthError('invalidManagement', 'invalid auth management');
    this.#mustRole(name);
    this.#roles.delete(name);
    // Users lose the deleted role, in name order (deterministic).
    for (const userName of this.userNames()) {
      const user = this.#users.get(userName)!;
      if (user.roles.includes(name)) this.#users.set(userName, { ...user, roles: user.roles.filter((r) => r !== name) });
    }
    return true;
  }

  #roleGrant(name: string, permission: Permission): boolean {
    const role = this.#mustRole(name);
    if (permission.key.length > MAX_PERMISSION_KEY_BYTES || permission.rangeEnd.length > MAX_PERMISSION_KEY_BYTES) {
      throw new AuthError('limit', `a permission key is longer than ${MAX_PERMISSION_KEY_BYTES} bytes (limit MAX_PERMISSION_KEY_BYTES)`);
    }
    const same = role.permissions.findIndex((p) => comparePermissions(p, permission) === 0);
    let permissions: Permission[];
    if (same >= 0) {
      // The same key and range end: the type is updated in place (etcd).
      permissions = role.permissions.map((p, i) => (i === same ? { ...p, type: permission.type } : p));
    } else {
      if (role.permissions.length >= MAX_PERMISSIONS_PER_ROLE) throw new AuthError('limit', `more than ${MAX_PERMISSIONS_PER_ROLE} permissions for one role (limit MAX_PERMISSIONS_PER_ROLE)`);
      permissions = [...role.permissions, permission].sort(comparePermissions);
    }
    this.#roles.set(name, { name, permissions });
    return true;
  }

  #roleRevoke(name: string, key: Uint8Array, rangeEnd: Uint8Array): boolean {
    const role = this.#mustRole(name);
    const kept = role.permissions.filter((p) => compareKeys(p.key, key) !== 0 || compareKeys(p.rangeEnd, rangeEnd) !== 0);
    if (kept.length === role.permissions.length) throw new AuthError('permissionNotGranted', 'permission is not granted to the role');
    this.#roles.set(name, { name, permissions: kept });
    return true;
  }

  /** Whether nothing was ever changed (a snapshot then needs no auth section). */
  get pristine(): boolean {
    return this.#revision === 1 && !this.#enabled && this.#users.size === 0 && this.#roles.size === 0;
  }

  /** The state as a record, users and roles sorted by name (equal states give equal records). */
  toRecord(): AuthRecord {
    return {
      enabled: this.#enabled,
      revision: this.#revision,
      epoch: this.#epoch,
      users: [...this.#users.values()].sort(byName),
      roles: [...this.#roles.values()].sort(byName),
    };
  }

  /** Replaces everything with `record` (a snapshot install); undefined resets to the empty state. */
  reset(record: AuthRecord | undefined): void {
    this.#users.clear();
    this.#roles.clear();
    this.#permissionCache = new Map();
    this.#enabled = record?.enabled ?? false;
    this.#revision = record?.revision ?? 1;
    this.#epoch = record?.epoch ?? 0;
    for (const u of record?.users ?? []) this.#users.set(u.name, u);
    for (const r of record?.roles ?? []) this.#roles.set(r.name, r);
  }
}
