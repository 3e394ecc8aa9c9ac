/**
 * A member's attributes beside its Raft id: the name it was started with, its peer URLs (how
 * members reach it) and its client URLs (how clients reach it). Every member holds every
 * member's attributes as replicated state, as etcd's cluster store does: peer URLs arrive with
 * the membership change that adds a member and change with an update; name and client URLs are
 * published by the member itself through the log once it has a leader (etcd's "publish"), and
 * again whenever they differ from what the cluster holds (a restart with another client URL).
 *
 * The publish/update command is carried in a normal entry's envelope like a store command, but
 * opens with {@link ATTRIBUTES_COMMAND_TAG}, a byte no store command starts with (store commands
 * are the binary put, 0xc1, or msgpack maps, 0x80–0x8f/0xde/0xdf), so the node applies it itself.
 */
import { InvalidArgumentError, ProtocolError } from '../errors.ts';
import { MAX_NODE_ID_BYTES } from '../protocol/types.ts';
import type { NodeId } from '../protocol/types.ts';
import { pack, unpack } from './codec.ts';

/** Most peer URLs, and most client URLs, one member may have. */
export const MAX_MEMBER_URLS = 8;
/** Longest URL a member may publish, in bytes. */
export const MAX_MEMBER_URL_BYTES = 512;
/** Longest member name in bytes (the size of a member id, which is the default name). */
export const MAX_MEMBER_NAME_BYTES = MAX_NODE_ID_BYTES;

/** Schemes of peer URLs (the transport is a WebSocket upgrade of HTTP). */
export const PEER_PROTOCOLS: readonly string[] = ['ws:', 'wss:'];
/** Schemes of client URLs. */
export const CLIENT_PROTOCOLS: readonly string[] = ['http:', 'https:'];

/** First byte of an attributes command (ASCII `M`; a msgpack positive fixint, never a store command). */
export const ATTRIBUTES_COMMAND_TAG = 0x4d;

/**
 * What the cluster holds for one member. `name` is absent while the member has published none
 * (its id then serves as its name), and `''` for a member added without one (etcd's MemberAdd)
 * that has not started yet.
 */
export interface MemberAttributes {
  readonly name?: string;
  /** The first one is the URL the transport dials. Never empty for a member with a known address. */
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
}

/** What an applied attributes command answers its proposer (see Membership.applyAttributes). */
export interface AttributesResult {
  readonly type: 'memberAttributes';
  readonly member: NodeId;
  /** Whether the member is one of the cluster's (a command for any other id changes nothing). */
  readonly known: boolean;
  /** The member's new dial URL when its peer URLs changed. */
  readonly peerUrl?: string;
}

/** A change to one member's attributes; the fields given replace the held ones. */
export interface AttributesCommand {
  readonly member: NodeId;
  readonly name?: string;
  readonly peerUrls?: readonly string[];
  readonly clientUrls?: readonly string[];
}

/**
 * Checks a URL list: at most {@link MAX_MEMBER_URLS}, each at most {@link MAX_MEMBER_URL_BYTES}
 * bytes, parseable, of one of `protocols`, with a host and a port, and no duplicates. Returns the
 * URLs as given; throws InvalidArgumentError naming `field`.
 */
export function checkMemberUrls(urls: unknown, field: string, protocols: readonly string[], allowEmpty: boolean): string[] {
  if (!Array.isArray(urls)) throw new InvalidArgumentError(`node: ${field} must be an array of URLs`);
  if (urls.length > MAX_MEMBER_URLS) throw new InvalidArgumentError(`node: ${field} holds ${urls.length} URLs, at most ${MAX_MEMBER_URLS} are allowed`);
  if (urls.length === 0 && !allowEmpty) throw new InvalidArgumentError(`node: ${field} must hold at least one URL`);
  const out: string[] = [];
  for (const url of urls as unknown[]) {
    if (typeof url !== 'string') throw new InvalidArgumentError(`node: ${field} must hold strings`);
    if (Buffer.byteLength(url) > MAX_MEMBER_URL_BYTES) throw new InvalidArgumentError(`node: ${field} URL is over ${MAX_MEMBER_URL_BYTES} bytes`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InvalidArgumentError(`node: ${field} holds an invalid URL ${JSON.stringify(url.slice(0, 80))}`);
    }
    if (!protocols.includes(parsed.protocol) || parsed.hostname === '' || parsed.port === '') {
      throw new InvalidArgumentError(`node: ${field} URL ${JSON.stringify(url.slice(0, 80))} must be ${protocols.join(' or ')}//host:port`);
    }
    if (out.includes(url)) throw new InvalidArgumentError(`node: ${field} holds ${JSON.stringify(url.slice(0, 80))} twice`);
    out.push(url);
  }
  return out;
}

export function checkMemberName(name: unknown, field: string): string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`node: ${field} must be a string`);
  if (Buffer.byteLength(name) > MAX_MEMBER_NAME_BYTES) throw new InvalidArgumentError(`node: ${field} must be at most ${MAX_MEMBER_NAME_BYTES} bytes`);
  return name;
}

export function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((url, i) => url === b[i]);
}

export function encodeAttributesCommand(cmd: AttributesCommand): Uint8Array {
  const body = pack({
    member: cmd.member,
    ...(cmd.name === undefined ? {} : { name: cmd.name }),
    ...(cmd.peerUrls === undefined ? {} : { peerUrls: cmd.peerUrls }),
    ...(cmd.clientUrls === undefined ? {} : { clientUrls: cmd.clientUrls }),
  });
  const out = new Uint8Array(body.length + 1);
  out[0] = ATTRIBUTES_COMMAND_TAG;
  out.set(body, 1);
  return out;
}

export function isAttributesCommand(command: Uint8Array): boolean {
  return command[0] === ATTRIBUTES_COMMAND_TAG;
}

/**
 * Decodes a committed attributes command. Its bytes were checked when proposed, but a log is
 * outside data too: every field is checked again and a bad one is a ProtocolError.
 */
export function decodeAttributesCommand(command: Uint8Array): AttributesCommand {
  const raw = unpack(command.subarray(1), 'member attributes');
  if (typeof raw !== 'object' || raw === null) throw new ProtocolError('node: bad member attributes command');
  const r = raw as Record<string, unknown>;
  const member = r['member'];
  if (typeof member !== 'string' || member === '' || Buffer.byteLength(member) > MAX_NODE_ID_BYTES) throw new ProtocolError('node: bad member attributes member');
  try {
    return {
      member,
      ...(r['name'] === undefined ? {} : { name: checkMemberName(r['name'], 'name') }),
      ...(r['peerUrls'] === undefined ? {} : { peerUrls: checkMemberUrls(r['peerUrls'], 'peerUrls', PEER_PROTOCOLS, false) }),
      ...(r['clientUrls'] === undefined ? {} : { clientUrls: checkMemberUrls(r['clientUrls'], 'clientUrls', CLIENT_PROTOCOLS, true) }),
    };
  } catch (err) {
    throw new ProtocolError(`node: bad member attributes: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Reads the attributes record a snapshot holds (see membership.ts): a JSON object of member id →
 * attributes. Anything unreadable is skipped rather than failing the snapshot, as for the
 * removed ids: the attributes are re-published by their members.
 */
export function parseAttributesRecord(json: string): Map<NodeId, MemberAttributes> {
  const out = new Map<NodeId, MemberAttributes>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return out;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return out;
  for (const [id, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) continue;
    const v = value as Record<string, unknown>;
    try {
      out.set(id, {
        ...(v['name'] === undefined ? {} : { name: checkMemberName(v['name'], 'name') }),
        peerUrls: checkMemberUrls(v['peerUrls'] ?? [], 'peerUrls', PEER_PROTOCOLS, true),
        clientUrls: checkMemberUrls(v['clientUrls'] ?? [], 'clientUrls', CLIENT_PROTOCOLS, true),
      });
    } catch {
      // Skipped: see above.
    }
  }
  return out;
}
