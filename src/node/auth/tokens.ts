/**
 * Simple tokens (etcd's `--auth-token=simple`): random strings this member hands out on
 * Authenticate and accepts until they go unused for {@link TOKEN_TTL_MS} (each use refreshes
 * them). They are not replicated: a token works on the member that issued it, and a client that
 * moves to another member authenticates again (etcd's clients do so on "invalid auth token").
 * Bounded: beyond {@link MAX_TOKENS} the least recently used token is dropped.
 */
import { randomBytes } from 'node:crypto';
import { MAX_TOKENS, TOKEN_TTL_MS } from './limits.ts';

/** Who a token was issued to, and against which credentials. */
export interface TokenGrant {
  readonly user: string;
  /** The user's password hash when the token was issued: a changed password voids the token. */
  readonly passwordHash: string | undefined;
  /** The auth epoch when it was issued: disabling and enabling auth voids every token. */
  readonly epoch: number;
}

interface Entry extends TokenGrant {
  expiresAtMs: number;
}

export class TokenTable {
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #max: number;
  /** Insertion order is use order: a refreshed token moves to the end. */
  readonly #tokens = new Map<string, Entry>();

  constructor(now: () => number = Date.now, ttlMs = TOKEN_TTL_MS, max = MAX_TOKENS) {
    this.#now = now;
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  get size(): number {
    return this.#tokens.size;
  }

  issue(grant: TokenGrant): string {
    // 24 characters of base64url: 144 random bits.
    const token = randomBytes(18).toString('base64url');
    if (this.#tokens.size >= this.#max) {
      const oldest = this.#tokens.keys().next();
      if (oldest.done !== true) this.#tokens.delete(oldest.value);
    }
    this.#tokens.set(token, { ...grant, expiresAtMs: this.#now() + this.#ttlMs });
    return token;
  }

  /** The grant behind `token` (its TTL refreshed), or undefined for an unknown or expired one. */
  use(token: string): TokenGrant | undefined {
    const entry = this.#tokens.get(token);
    if (entry === undefined) return undefined;
    const now = this.#now();
    this.#tokens.delete(token);
    if (entry.expiresAtMs <= now) return undefined;
    entry.expiresAtMs = now + this.#ttlMs;
    this.#tokens.set(token, entry);
    return entry;
  }

  /** Forgets `token` (its grant no longer holds). */
  revoke(token: string): void {
    this.#tokens.delete(token);
  }

  /** Drops the expired tokens at the front (least recently used first); a bounded sweep. */
  sweep(maxChecked = 1000): void {
    const now = this.#now();
    let checked = 0;
    for (const [token, entry] of this.#tokens) {
      if (entry.expiresAtMs > now || checked++ >= maxChecked) break;
      this.#tokens.delete(token);
    }
  }
}
