/**
 * The node's byte formats: the default value codec, the proposal envelope carried in every normal
 * Raft entry, the application snapshot (store + membership + dedupe table), conf-change context
 * and driver-to-driver app messages. All msgpack with records/structures OFF, so no encoder keeps a
 * growing shared table (DESIGN.md §7) and a restarted peer always decodes what it is sent.
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
  const member = utf8.encode(env.id.member);
  const head = 2 + member.length + 16;
  const out = new Uint8Array(head + env.command.length);
  out[0] = ENVELOPE_VERSION;
  out[1] = member.length;
  out.set(member, 2);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setFloat64(2 + member.length, env.id.incarnation);
  view.setFloat64(10 + member.length, env.id.seq);
  out.set(env.command, head);
  return out;
}

export function decodeEnvelope(data: Uint8Array): Envelope {
  if (data.length < 18 || data[0] !== ENVELOPE_VERSION) throw new ProtocolError('node: bad entry envelope');
  const memberLength = data[1] as number;
  const head = 2 + memberLength + 16;
  if (memberLength === 0 || data.length < head) throw new ProtocolError('node: bad entry envelope length');
  let member: string;
  try {
    member = utf8Decoder.decode(data.subarray(2, 2 + memberLength));
  } catch (err) {
    throw new ProtocolError('node: bad entry envelope member', { cause: err });
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const incarnation = view.getFloat64(2 + memberLength);
  const seq = view.getFloat64(10 + memberLength);
  return { id: { member, incarnation, seq }, command: data.subarray(head) };
}

/** Application state inside a Raft snapshot. */
export interface AppSnapshot {
  readonly store: Uint8Array;
  /** Member id → peer URL. */
  readonly members: Readonly<Record<NodeId, string>>;
  /** Applied proposal keys, oldest first (replicated dedupe table). */
  readonly dedupe: readonly string[];
}

export function encodeAppSnapshot(snap: AppSnapshot): Uint8Array {
  return packr.pack({ v: 1, store: snap.store, members: snap.members, dedupe: snap.dedupe });
}

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
  return { store: r['store'], members, dedupe };
}

/** ConfChange.context: the member's URL plus the proposal that asked for the change. */
export interface ConfContext {
  readonly url: string;
  readonly proposal: string;
}

export function encodeConfContext(ctx: ConfContext): Uint8Array {
  return packr.pack({ url: ctx.url, proposal: ctx.proposal });
}

export function decodeConfContext(data: Uint8Array): ConfContext {
  if (data.length === 0) return { url: '', proposal: '' };
  try {
    const raw = packr.unpack(data) as Record<string, unknown>;
    return {
      url: typeof raw['url'] === 'string' ? raw['url'] : '',
      proposal: typeof raw['proposal'] === 'string' ? raw['proposal'] : '',
    };
  } catch {
    return { url: '', proposal: '' };
  }
}
