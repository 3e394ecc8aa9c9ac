/**
 * `node.auth`: etcd v3 auth on one member (docs/auth.md). Changes are proposed through Raft as
 * {@link AuthCommand}s (passwords hashed here, before proposing); reads wait on a ReadIndex
 * barrier and read the applied {@link AuthState}. Authentication issues this member's simple
 * tokens (tokens.ts); {@link AuthApi.identify} and the `require*` checks are what the client
 * adapters call on every request. Calls made in-process by the embedding app are not checked:
 * the app is trusted.
 */
import { AuthError, AuthFailedError, InvalidArgumentError, PermissionDeniedError, ProposalDroppedError, UnauthenticatedError } from '../../errors.ts';
import type { AppliedResult } from '../applied-state.ts';
import type { CallOptions } from '../types.ts';
import { encodeAuthCommand, encodeGuarded } from './auth-codec.ts';
import type { AuthState } from './auth-state.ts';
import { MAX_CONCURRENT_PASSWORD_CHECKS, MAX_PASSWORD_BYTES, MAX_QUEUED_PASSWORD_CHECKS } from './limits.ts';
import { DECOY_HASH, hashPassword, verifyPassword } from './password.ts';
import { TokenTable } from './tokens.ts';
import type { TokenGrant } from './tokens.ts';
import type { Access, AuthCommand, Permission } from './types.ts';

/** What the node lends the auth API. */
export interface AuthHost {
  propose(command: Uint8Array, options?: CallOptions): Promise<AppliedResult>;
  readBarrier(options?: CallOptions): Promise<void>;
  /** The applied state (a getter: a snapshot install keeps the same object, but read it late). */
  state(): AuthState;
}

/**
 * Who is calling, as {@link AuthApi.identify} decided: `open` while auth is disabled (everything
 * allowed), `anonymous` with auth enabled and no token, or an authenticated user.
 */
export type AuthIdentity = { readonly kind: 'open' } | { readonly kind: 'anonymous' } | { readonly kind: 'user'; readonly name: string };

export const OPEN_IDENTITY: AuthIdentity = Object.freeze({ kind: 'open' });

export interface UserInfo {
  readonly name: string;
  readonly roles: readonly string[];
}

export interface RoleInfo {
  readonly name: string;
  readonly permissions: readonly Permission[];
}

const utf8 = new TextEncoder();

function checkPassword(password: string): void {
  if (typeof password !== 'string') throw new InvalidArgumentError('auth: password must be a string');
  if (utf8.encode(password).length > MAX_PASSWORD_BYTES) throw new AuthError('limit', `password is longer than ${MAX_PASSWORD_BYTES} bytes (limit MAX_PASSWORD_BYTES)`);
}

export class AuthApi {
  readonly #host: AuthHost;
  readonly #tokens: TokenTable;
  #checking = 0;
  /** Password checks waiting for a slot, oldest first (at most MAX_QUEUED_PASSWORD_CHECKS). */
  readonly #waiting: (() => void)[] = [];

  constructor(host: AuthHost, tokens: TokenTable = new TokenTable()) {
    this.#host = host;
    this.#tokens = tokens;
  }

  /** Whether auth is enabled, as applied on this member. */
  get enabled(): boolean {
    return this.#host.state().enabled;
  }

  /** The auth revision applied on this member. */
  get revision(): number {
    return this.#host.state().revision;
  }

  async #propose(cmd: AuthCommand, options: CallOptions | undefined): Promise<number> {
    const bytes = encodeAuthCommand(cmd);
    // Checked by an adapter at some auth revision: applied only if auth is unchanged since.
    const checkedAt = options?.authRevision;
    const result = await this.#host.propose(checkedAt === undefined ? bytes : encodeGuarded(checkedAt, bytes), options);
    if (result.type !== 'auth') throw new Error(`auth: assertion failed: unexpected result ${result.type}`);
    return result.revision;
  }

  /** Enables auth; needs user `root` with role `root`. Resolves with the auth revision. */
  enable(options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'enable' }, options);
  }

  disable(options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'disable' }, options);
  }

  /** Adds a user; `password` undefined adds one that cannot authenticate (etcd's `--no-password`). */
  async addUser(name: string, password: string | undefined, options?: CallOptions): Promise<number> {
    if (password !== undefined) checkPassword(password);
    const passwordHash = password === undefined ? undefined : await this.#hash(password);
    return this.#propose({ type: 'userAdd', name, passwordHash }, options);
  }

  async changePassword(name: string, password: string, options?: CallOptions): Promise<number> {
    checkPassword(password);
    return this.#propose({ type: 'userPassword', name, passwordHash: await this.#hash(password) }, options);
  }

  deleteUser(name: string, options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'userDelete', name }, options);
  }

  grantRole(user: string, role: string, options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'userGrant', name: user, role }, options);
  }

  revokeRole(user: string, role: string, options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'userRevoke', name: user, role }, options);
  }

  addRole(name: string, options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'roleAdd', name }, options);
  }

  deleteRole(name: string, options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'roleDelete', name }, options);
  }

  grantPermission(role: string, permission: Permission, options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'roleGrant', name: role, permission }, options);
  }

  revokePermission(role: string, key: Uint8Array, rangeEnd: Uint8Array, options?: CallOptions): Promise<number> {
    return this.#propose({ type: 'roleRevoke', name: role, key, rangeEnd }, options);
  }

  /** A user and its roles (linearizable). */
  async getUser(name: string, options?: CallOptions): Promise<UserInfo> {
    await this.#host.readBarrier(options);
    const user = this.#host.state().user(name);
    if (user === undefined) throw new AuthError('userNotFound', 'user name not found');
    return { name: user.name, roles: user.roles };
  }

  async listUsers(options?: CallOptions): Promise<string[]> {
    await this.#host.readBarrier(options);
    return this.#host.state().userNames();
  }

  async getRole(name: string, options?: CallOptions): Promise<RoleInfo> {
    await this.#host.readBarrier(options);
    const role = this.#host.state().role(name);
    if (role === undefined) throw new AuthError('roleNotFound', 'role name not found');
    return { name: role.name, permissions: role.permissions };
  }

  async listRoles(options?: CallOptions): Promise<string[]> {
    await this.#host.readBarrier(options);
    return this.#host.state().roleNames();
  }

  /**
   * Checks a user's password and returns a new simple token for this member. An unknown user
   * costs as long as a wrong password (a hash is checked either way).
   */
  async authenticate(name: string, password: string, options?: CallOptions): Promise<string> {
    const grant = await this.#checkPassword(name, password, options);
    this.#tokens.sweep();
    return this.#tokens.issue(grant);
  }

  /**
   * The identity of `name` if `password` is theirs, without issuing a token (for protocols that
   * send the password with every request, such as HTTP basic auth on the v2 API).
   */
  async checkPassword(name: string, password: string, options?: CallOptions): Promise<AuthIdentity> {
    return { kind: 'user', name: (await this.#checkPassword(name, password, options)).user };
  }

  async #checkPassword(name: string, password: string, options: CallOptions | undefined): Promise<TokenGrant> {
    if (typeof name !== 'string' || typeof password !== 'string') throw new InvalidArgumentError('auth: name and password must be strings');
    await this.#host.readBarrier(options);
    const state = this.#host.state();
    if (!state.enabled) throw new AuthError('notEnabled', 'authentication is not enabled');
    if (utf8.encode(password).length > MAX_PASSWORD_BYTES) throw new AuthFailedError();
    const stored = state.user(name)?.passwordHash;
    const ok = await this.#verify(password, stored ?? DECOY_HASH);
    // Read the state again: the user may have changed while the hash was computed.
    const now = this.#host.state();
    if (!ok || stored === undefined || now.user(name)?.passwordHash !== stored || !now.enabled) throw new AuthFailedError();
    return { user: name, passwordHash: stored, epoch: now.epoch };
  }

  /**
   * Who presents `token`. With auth disabled everyone is `open`; with it enabled, no token is
   * `anonymous` and a token this member did not issue, that expired, or whose user was deleted or
   * changed password since is refused (etcd's "invalid auth token").
   */
  identify(token: string | undefined): AuthIdentity {
    const state = this.#host.state();
    if (!state.enabled) return OPEN_IDENTITY;
    if (token === undefined || token === '') return { kind: 'anonymous' };
    const grant = this.#tokens.use(token);
    const user = grant === undefined ? undefined : state.user(grant.user);
    if (grant === undefined || user === undefined || grant.epoch !== state.epoch || user.passwordHash !== grant.passwordHash) {
      if (grant !== undefined) this.#tokens.revoke(token);
      throw new UnauthenticatedError('auth: invalid auth token');
    }
    return { kind: 'user', name: grant.user };
  }

  /** Throws unless `who` may `access` the key (empty `rangeEnd`) or the range. */
  requireKeys(who: AuthIdentity, access: Access, key: Uint8Array, rangeEnd?: Uint8Array): void {
    const state = this.#host.state();
    if (who.kind === 'open' || !state.enabled) return;
    if (who.kind === 'anonymous') throw new PermissionDeniedError(true);
    if (state.permissionsOf(who.name)?.allows(access, key, rangeEnd) !== true) throw new PermissionDeniedError(false);
  }

  /** Throws unless `who` has the root role (etcd's admin-only calls). */
  requireRoot(who: AuthIdentity): void {
    const state = this.#host.state();
    if (who.kind === 'open' || !state.enabled) return;
    if (who.kind === 'anonymous') throw new PermissionDeniedError(true);
    if (!state.isRoot(who.name)) throw new PermissionDeniedError(false);
  }

  /** Throws unless `who` is an authenticated user (or auth is disabled). */
  requireUser(who: AuthIdentity): void {
    if (who.kind === 'anonymous' && this.#host.state().enabled) throw new PermissionDeniedError(true);
  }

  /** Whether `who` is `user` or has the role `role` (etcd lets a user read itself and its roles). */
  isSelfOrHasRole(who: AuthIdentity, user: string | undefined, role?: string): boolean {
    if (who.kind !== 'user') return false;
    if (user !== undefined && who.name === user) return true;
    return role !== undefined && this.#host.state().user(who.name)?.roles.includes(role) === true;
  }

  /** Runs `work` when one of the MAX_CONCURRENT_PASSWORD_CHECKS slots is free, queueing a bounded number of waiters. */
  async #bounded<T>(work: () => Promise<T>): Promise<T> {
    if (this.#checking >= MAX_CONCURRENT_PASSWORD_CHECKS) {
      if (this.#waiting.length >= MAX_QUEUED_PASSWORD_CHECKS) {
        throw new ProposalDroppedError(`${MAX_QUEUED_PASSWORD_CHECKS} password checks already waiting (limit MAX_QUEUED_PASSWORD_CHECKS)`);
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#checking += 1;
    try {
      return await work();
    } finally {
      // The slot passes to the next waiter, or is freed.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#checking -= 1;
    }
  }

  #hash(password: string): Promise<string> {
    return this.#bounded(() => hashPassword(password));
  }

  #verify(password: string, stored: string): Promise<boolean> {
    return this.#bounded(() => verifyPassword(password, stored));
  }
}
