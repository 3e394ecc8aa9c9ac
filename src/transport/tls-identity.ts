/**
 * Which member ids a peer certificate names. A member proves its id by a certificate from the
 * cluster CA whose subject CN, a DNS SAN, or a URI SAN `quorumkv://<id>` is exactly that id — a
 * claimed id alone is never trusted (the handshake compares the two).
 */
import type { PeerCertificate } from 'node:tls';

/** URI SAN scheme that names a member: `quorumkv://n1`. */
export const MEMBER_URI_PREFIX = 'quorumkv://';

/**
 * Splits Node's `subjectaltname` string (`DNS:a, URI:b, IP Address:c`). Node quotes entries that
 * contain separators as JSON strings (`DNS:"a, b"`), which are decoded here.
 */
export function parseSubjectAltNames(san: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  let i = 0;
  while (i < san.length) {
    while (san[i] === ' ' || san[i] === ',') i++;
    const colon = san.indexOf(':', i);
    if (colon < 0) break;
    const type = san.slice(i, colon);
    i = colon + 1;
    let value: string;
    if (san[i] === '"') {
      let j = i + 1;
      while (j < san.length && san[j] !== '"') j += san[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(san.slice(i, j + 1)) as string;
      } catch {
        return out; // A malformed quoted value: stop rather than guess.
      }
      i = j + 1;
    } else {
      const comma = san.indexOf(', ', i);
      value = comma < 0 ? san.slice(i) : san.slice(i, comma);
      i = comma < 0 ? san.length : comma;
    }
    out.push({ type, value });
  }
  return out;
}

/** Every member id the certificate names (CN, DNS SANs, `quorumkv://` URI SANs). */
export function certificateMemberNames(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn: unknown = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  if (typeof cert.subjectaltname === 'string') {
    for (const { type, value } of parseSubjectAltNames(cert.subjectaltname)) {
      if (type === 'DNS') names.push(value);
      else if (type === 'URI' && value.startsWith(MEMBER_URI_PREFIX)) {
        const rest = value.slice(MEMBER_URI_PREFIX.length);
        try {
          names.push(decodeURIComponent(rest));
        } catch {
          names.push(rest);
        }
      }
    }
  }
  return [...new Set(names)];
}

/** Whether the certificate names exactly `id`. */
export function certificateNamesMember(cert: PeerCertificate, id: string): boolean {
  return certificateMemberNames(cert).includes(id);
}
