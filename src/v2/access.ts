/**
 * etcd v3 auth on the v2 API (docs/auth.md, "The other adapters"): who is calling — HTTP basic
 * auth `name:password` (etcdctl v2's `--user`) or a v3 token — and whether their v3 permissions
 * allow the keys a request needs (permissions.ts). Every refusal is etcd v2's 110 "The request
 * requires user authentication" with the reason in its cause, raised before anything is written.
 */
import type { IncomingMessage } from 'node:http';
import { AuthError, AuthFailedError, PermissionDeniedError, UnauthenticatedError } from '../errors.ts';
import type { QuorumError } from '../errors.ts';
import type { MountContext } from '../gateway/types.ts';
import type { AuthApi, AuthIdentity } from '../node/auth/auth-api.ts';
import { prefixKeys } from '../node/auth/permission-set.ts';
import type { CallOptions } from '../node/types.ts';
import type { KeyGuard } from './context.ts';
import { V2Error } from './errors.ts';
import type { KeyNeed } from './permissions.ts';

/** etcd v2's cause for every auth refusal; ours adds the reason after it. */
const INSUFFICIENT = 'Insufficient credentials';

/** Longest key quoted in a refusal's cause. */
const MAX_QUOTED_KEY_CHARS = 128;

/** A refusal: `Insufficient credentials: <reason>` (the layer prefix of our message dropped). */
export function deniedError(reason?: string): V2Error {
  return new V2Error(110, reason === undefined ? INSUFFICIENT : `${INSUFFICIENT}: ${reason.replace(/^auth: /, '')}`);
}

/** The errors with which auth refuses a caller (a timeout or a stopping member is not one). */
function isRefusal(err: unknown): err is QuorumError {
  return err instanceof PermissionDeniedError || err instanceof AuthFailedError || err instanceof UnauthenticatedError || err instanceof AuthError;
}

/** An auth call's refusal as 110; anything else unchanged. */
function asRefusal(err: unknown, detail?: string): unknown {
  if (isRefusal(err)) return deniedError(detail === undefined ? err.message : `${err.message} (${detail})`);
  return err;
}

/**
 * The caller's identity: `open` with auth disabled, else the user of the basic-auth password or
 * the token, or `anonymous` with neither. A wrong password or a bad token is refused.
 */
export async function identityOf(mount: MountContext, req: IncomingMessage, call: CallOptions): Promise<AuthIdentity> {
  const auth = mount.node.auth;
  try {
    if (!auth.enabled) return auth.identify(undefined);
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Basic ')) return auth.identify(mount.authToken);
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return await auth.checkPassword(colon < 0 ? decoded : decoded.slice(0, colon), colon < 0 ? '' : decoded.slice(colon + 1), call);
  } catch (err) {
    throw asRefusal(err);
  }
}

function describe(need: KeyNeed): string {
  const key = need.key.length > MAX_QUOTED_KEY_CHARS ? `${need.key.slice(0, MAX_QUOTED_KEY_CHARS)}…` : need.key;
  return `${need.access} on ${need.prefix ? 'the keys under ' : ''}${key}`;
}

function rangeOf(need: KeyNeed): { readonly key: Uint8Array; readonly rangeEnd: Uint8Array | undefined } {
  if (need.prefix) return prefixKeys(need.key);
  return { key: Buffer.from(need.key, 'utf8'), rangeEnd: undefined };
}

/** One caller's permission checks, as the v2 operations call them. */
export class V2Guard implements KeyGuard {
  readonly #auth: AuthApi;
  readonly #who: AuthIdentity;

  constructor(auth: AuthApi, who: AuthIdentity) {
    this.#auth = auth;
    this.#who = who;
  }

  /** Throws 110 unless every need is allowed. */
  require(needs: readonly KeyNeed[]): void {
    for (const need of needs) {
      const { key, rangeEnd } = rangeOf(need);
      try {
        this.#auth.requireKeys(this.#who, need.access, key, rangeEnd);
      } catch (err) {
        throw asRefusal(err, describe(need));
      }
    }
  }

  /** Whether every need is allowed (no error: for choosing between checks). */
  allows(needs: readonly KeyNeed[]): boolean {
    try {
      this.require(needs);
      return true;
    } catch (err) {
      if (err instanceof V2Error) return false;
      throw err;
    }
  }

  /** Whether the caller may read `key` (a reply's previous value is shown only then). */
  mayRead(key: string): boolean {
    return this.allows([{ access: 'read', key, prefix: false }]);
  }

  /** Throws 110 unless the caller has the root role (membership changes). */
  requireRoot(): void {
    try {
      this.#auth.requireRoot(this.#who);
    } catch (err) {
      throw asRefusal(err, 'membership changes need the root role');
    }
  }
}
