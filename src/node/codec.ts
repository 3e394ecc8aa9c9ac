/**
 * The node's byte formats: the default value codec, the proposal envelope carried in every normal
 * Raft entry, the application snapshot (store + membership + dedupe table), conf-change context
 * and driver-to-driver app messages. All msgpack with records/structures OFF, so no encoder keeps a
 * growing shared table (docs/design.md, "Known pitfalls") and a restarted peer always decodes what it is sent.
 */
import { Packr } from 'msgpackr';
import { InvalidArgumentError, ProtocolError } from '../errors.ts';
import type { NodeId } from '../protocol/types.ts';
import type { ValueCodec } from './types.ts';

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

/** The default value codec: msgpackr, any structured value. */
export const msgpackCodec: ValueCodec = Object.freeze({
  encode(value: unknown): Uint8Array {
    if (value === undefined) throw new InvalidArgumentError('node: value must not be undefined');
    try {
      return packr.pack(value);
    } catch (err) {
      throw new InvalidArgumentError(`node: value cannot be encoded: ${(err as Error).message}`, { cause: err });
    }
  },
  decode(bytes: Uint8Array): unknown {
    return packr.unpack(bytes);
  },
});

export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError(`node: cannot decode ${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** A proposal id: proposer member, its incarnation (random per start) and a counter. */
export interface ProposalId {
  readonly member: NodeId;
  readonly incarnation: number;
  readonly seq: number;
}

export function proposalKey(id: ProposalId): string {
  return `${id.member}/${id.incarnation}/${id.seq}`;
}

/** Inverse of {@link proposalKey} (the member id may itself contain `/`). */
export function parseProposalKey(key: string): ProposalId {
  const b = key.lastIndexOf('/');
  const a = b > 0 ? key.lastIndexOf('/', b - 1) : -1;
  const incarnation = Number(key.slice(a + 1, b));
  const seq = Number(key.slice(b + 1));
  if (a <= 0 || !Number.isFinite(incarnation) || !Number.isFinite(seq) || key.slice(a + 1, b) === '' || key.slice(b + 1) === '') {
    throw new ProtocolError('node: bad proposal id in the dedupe table');
  }
  return { member: key.slice(0, a), incarnation, seq };
}

/** What a normal entry's data holds (empty data = a leader's no-op entry). */
export interface Envelope {
  readonly id: ProposalId;
  readonly command: Uint8Array;
}

const ENVELOPE_VERSION = 1;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Binary, not msgpack, because it is on every write's path: `1 | memberLength (u8) | member (UTF-8)
 * | incarnation (f64 BE) | seq (f64 BE) | command bytes`. Decoding does not copy the command.
 */
export function encodeEnvelope(env: Envelope): Uint8Array {
  return encodeEnvelopeWith(envelopeHead(env.id.member, env.id.incarnation), env.id.seq, env.command);
}

/** The envelope bytes before `seq`, the same for every proposal of one member incarnation. */
export function envelopeHead(member: string, incarnation: number): Uint8Array {
  const id = utf8.encode(member);
  const head = new Uint8Array(2 + id.length + 8);
  head[0] = ENVELOPE_VERSION;
  head[1] = id.length;
  head.set(id, 2);
  new DataView(head.buffer).setFloat64(2 + id.length, incarnation);
  return head;
}

// Scratch space for f64 (de)serialization: no DataView per envelope, and no `.buffer` access on
// small on-heap typed arrays (which would move them off-heap).
const f64Bytes = new Uint8Array(8);
const f64View = new DataView(f64Bytes.buffer);

/** An envelope from its precomputed {@link envelopeHead}. */
export function encodeEnvelopeWith(head: Uint8Array, seq: number, command: Uint8Array): Uint8Array {
  // Every byte is written below. allocUnsafe takes small envelopes from Node's shared 8 KiB pool
  // instead of giving each its own off-heap backing store (costly to allocate and to collect).
  const out = Buffer.allocUnsafe(head.length + 8 + command.length);
  out.set(head, 0);
  f64View.setFloat64(0, seq);
  out.set(f64Bytes, head.length);
  out.set(command, head.length + 8);
  return out;
}

function readF64(data: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[i] = data[at + i]!;
  return f64View.getFloat64(0);
}

/**
 * Recently decoded member ids by their bytes: a cluster has a handful of members, so decoding an
 * envelope reuses the same string (its hash already computed) instead of a new one per entry.
 */
const memberCache: { bytes: Uint8Array; id: string }[] = [];
const MEMBER_CACHE_SIZE = 8;

function decodeMember(data: Uint8Array, length: number): string {
  for (let i = 0; i < memberCache.length; i++) {
    const c = memberCache[i]!;
    if (c.bytes.length !== length) continue;
    let same = true;
    for (let j = 0; j < length; j++) {
      if (c.bytes[j] !== data[2 + j]) {
        same = false;
        break;
      }
    }
    if (same) return c.id;
  }
  let id: string;
  try {
    id = utf8Decoder.decode(data.subarray(2, 2 + length));
  } catch (err) {
    throw new ProtocolError('node: bad entry envelope member', { cause: err });
  }
  if (memberCache.length >= MEMBER_CACHE_SIZE) memberCache.shift();
  memberCache.push({ bytes: data.slice(2, 2 + length), id });
  return id;
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  if (data.length < 18 || data[0] !== ENVELOPE_VERSION) throw new ProtocolError('node: bad entry envelope');
  const memberLength = data[1] as number;
  const head = 2 + memberLength + 16;
  if (memberLength === 0 || data.length < head) throw new ProtocolError('node: bad entry envelope length');
  const member = decodeMember(data, memberLength);
  const incarnation = readF64(data, 2 + memberLength);
  const seq = readF64(data, 10 + memberLength);
  return { id: { member, incarnation, seq }, command: data.subarray(head) };
}

/** Application state inside a Raft snapshot. */
export interface AppSnapshot {
  readonly store: Uint8Array;
  /** Member id → peer URL. */
  readonly members: Readonly<Record<NodeId, string>>;
  /** Applied proposal keys, oldest first (replicated dedupe table). */
  readonly dedupe: readonly string[];
  /**
   * The auth state (auth/auth-codec.ts decodes it), absent while auth was never used: a snapshot
   * without it, also one written before auth existed, opens with the empty auth state.
   */
  readonly auth?: unknown;
}

export function encodeAppSnapshot(snap: AppSnapshot): Uint8Array {
  const body = { v: 1, store: snap.store, members: snap.members, dedupe: snap.dedupe };
  return packr.pack(snap.auth === undefined ? body : { ...body, auth: snap.auth });
}

/** The msgpack bin header for `n` bytes (bin 8, 16 or 32), as msgpackr writes it. */
function binHeader(n: number): Uint8Array {
  if (n < 0x100) return Uint8Array.of(0xc4, n);
  if (n < 0x10000) return Uint8Array.of(0xc5, n >>> 8, n & 0xff);
  return Uint8Array.of(0xc6, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * The bytes of `encodeAppSnapshot({ store, members, dedupe })` as pieces, where `store` is
 * given as its own pieces (`StoreSnapshot.encodeParts`): the store's bytes are not copied here,
 * so the whole snapshot is joined once, in slices, by the caller.
 */
export function encodeAppSnapshotParts(store: readonly Uint8Array[], members: Readonly<Record<NodeId, string>>, dedupe: readonly string[], auth?: unknown): Uint8Array[] {
  let storeBytes = 0;
  for (const p of store) storeBytes += p.length;
  // msgpackr writes an object as a map 16 (0xde + a 2-byte count) of its entries in insertion
  // order: v, store, members, dedupe[, auth] (see encodeAppSnapshot). The two halves are packed
  // as maps of their own, whose 3-byte headers (and the empty bin, 0xc4 0x00) are cut off.
  const head = packr.pack({ v: 1, store: EMPTY_BYTES });
  const tail = packr.pack(auth === undefined ? { members, dedupe } : { members, dedupe, auth });
  return [Uint8Array.of(0xde, 0x00, auth === undefined ? 0x04 : 0x05), head.subarray(3, head.length - 2), binHeader(storeBytes), ...store, tail.subarray(3)];
}

const EMPTY_BYTES = new Uint8Array(0);

export function decodeAppSnapshot(data: Uint8Array): AppSnapshot {
  const raw = unpack(data, 'snapshot');
  if (typeof raw !== 'object' || raw === null) throw new ProtocolError('node: bad snapshot');
  const r = raw as Record<string, unknown>;
  if (r['v'] !== 1 || !(r['store'] instanceof Uint8Array) || typeof r['members'] !== 'object' || r['members'] === null || !Array.isArray(r['dedupe'])) {
    throw new ProtocolError('node: bad snapshot fields');
  }
  const members: Record<NodeId, string> = {};
  for (const [k, v] of Object.entries(r['members'] as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new ProtocolError('node: bad snapshot member url');
    members[k] = v;
  }
  const dedupe = (r['dedupe'] as unknown[]).filter((k): k is string => typeof k === 'string');
  return r['auth'] === undefined ? { store: r['store'], members, dedupe } : { store: r['store'], members, dedupe, auth: r['auth'] };
}

/**
 * ConfChange.context: the member's dial URL plus the proposal that asked for the change; an add
 * may also carry every peer URL and the member's name (`''` for etcd's nameless MemberAdd).
 * Contexts written without them read as `peerUrls: [url]` and no name.
 */
export interface ConfContext {
  readonly url: string;
  readonly proposal: string;
  readonly peerUrls?: readonly string[];
  readonly name?: string;
}

export function encodeConfContext(ctx: ConfContext): Uint8Array {
  return packr.pack({
    url: ctx.url,
    proposal: ctx.proposal,
    ...(ctx.peerUrls === undefined ? {} : { peerUrls: ctx.peerUrls }),
    ...(ctx.name === undefined ? {} : { name: ctx.name }),
  });
}

export function decodeConfContext(data: Uint8Array): ConfContext {
  if (data.length === 0) return { url: '', proposal: '' };
  try {
    const raw = packr.unpack(data) as Record<string, unknown>;
    const peerUrls = raw['peerUrls'];
    const name = raw['name'];
    return {
      url: typeof raw['url'] === 'string' ? raw['url'] : '',
      proposal: typeof raw['proposal'] === 'string' ? raw['proposal'] : '',
      ...(Array.isArray(peerUrls) && peerUrls.every((u) => typeof u === 'string') ? { peerUrls: peerUrls as string[] } : {}),
      ...(typeof name === 'string' ? { name } : {}),
    };
  } catch {
    return { url: '', proposal: '' };
  }
}
