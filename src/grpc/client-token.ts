/**
 * The client token on gRPC calls. A member started with a client `token` refuses every gRPC call
 * that does not carry it, as the JSON gateway refuses its requests: in `authorization: Bearer
 * <token>` (or the bare token) or in etcd's `token` metadata. Compared in constant time, on
 * digests so the lengths do not leak either.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http2';

export type TokenCheck = (headers: IncomingHttpHeaders) => boolean;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** A check of `token`, or one that lets every call through when no token is configured. */
export function tokenCheck(token: string | undefined): TokenCheck {
  if (token === undefined) return () => true;
  const expected = digest(token);
  return (headers) => {
    const auth = headers['authorization'];
    const given = typeof auth === 'string' ? (auth.startsWith('Bearer ') ? auth.slice(7) : auth) : headers['token'];
    return typeof given === 'string' && timingSafeEqual(digest(given), expected);
  };
}
