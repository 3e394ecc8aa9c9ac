/**
 * Runtime schema checks of every inbound frame body, before anything reaches Raft. Each check
 * builds a fresh object with exactly the contract's fields (extra keys never pass through) and
 * throws {@link ProtocolError} naming the first bad field, e.g. `messages[3].term`.
 */
import type { ConfState, Entry, Message, NodeId, PeerMessage, Snapshot } from '../protocol/types.ts';
import { MAX_NODE_ID_BYTES } from '../protocol/types.ts';
import { ProtocolError } from '../errors.ts';
import { APP_CODE, WIRE_ENTRY_TYPES, WIRE_MESSAGE_TYPES } from './wire.ts';

/** Longest `context` of a message, in bytes (protocol/types.ts). */
export const MAX_CONTEXT_BYTES = 64;
/** Longest `channel` of an app message, in UTF-8 bytes. */
export const MAX_CHANNEL_BYTES = 128;

/** Who the authenticated connection belongs to: every message must be `from` → `to`. */
export interface FrameContext {
  readonly from: NodeId;
  readonly to: NodeId;
}

type Rec = Record<string, unknown>;

function fail(path: string, what: string): never {
  throw new ProtocolError(`transport: malformed frame: ${path} ${what}`);
}

function record(value: unknown, path: string): Rec {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) fail(path, 'is not an object');
  return value as Rec;
}

function uint(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(path, 'is not a non-negative safe integer');
  return value;
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, 'is not a boolean');
  return value;
}

function bytes(value: unknown, path: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(path, 'is not a byte array');
  return value;
}

function memberId(value: unknown, path: string): NodeId {
  if (typeof value !== 'string' || value.length === 0) fail(path, 'is not a non-empty string');
  if (Buffer.byteLength(value, 'utf8') > MAX_NODE_ID_BYTES) fail(path, `is longer than ${MAX_NODE_ID_BYTES} bytes`);
  return value;
}

function memberIds(value: unknown, path: string): NodeId[] {
  if (!Array.isArray(value)) fail(path, 'is not an array');
  return value.map((v, i) => memberId(v, `${path}[${i}]`));
}

function entries(value: unknown, path: string): Entry[] {
  if (!Array.isArray(value)) fail(path, 'is not an array');
  const out: Entry[] = new Array<Entry>(value.length);
  for (let i = 0; i < value.length; i++) {
    const p = `${path}[${i}]`;
    const e = record(value[i], p);
    const code = e['t'];
    const type = typeof code === 'number' ? WIRE_ENTRY_TYPES[code] : undefined;
    if (type === undefined) fail(`${p}.type`, 'is not a known entry type');
    out[i] = { term: uint(e['term'], `${p}.term`), index: uint(e['index'], `${p}.index`), type, data: bytes(e['data'], `${p}.data`) };
  }
  return out;
}

function confState(value: unknown, path: string): ConfState {
  const c = record(value, path);
  return { voters: memberIds(c['voters'], `${path}.voters`), learners: memberIds(c['learners'], `${path}.learners`) };
}

/** The snapshot of a `snapshotBegin` frame; its data arrives in chunks, so it must be empty here. */
function snapshotHeader(value: unknown, path: string): Snapshot {
  const s = record(value, path);
  const meta = record(s['meta'], `${path}.meta`);
  const data = bytes(s['data'], `${path}.data`);
  if (data.byteLength !== 0) fail(`${path}.data`, 'must be empty in a stream header');
  return {
    meta: { index: uint(meta['index'], `${path}.meta.index`), term: uint(meta['term'], `${path}.meta.term`), confState: confState(meta['confState'], `${path}.meta.confState`) },
    data,
  };
}

/** Validates one wire message. `allowSnapshot` is true only for a snapshot stream header. */
export function validateMessage(value: unknown, ctx: FrameContext, path: string, allowSnapshot = false): PeerMessage {
  const m = record(value, path);
  const code = m['t'];
  if (typeof code !== 'number' || !Number.isInteger(code) || WIRE_MESSAGE_TYPES[code] === undefined) fail(`${path}.type`, 'is not a known message type');
  // The ends must equal the authenticated peer and this member, both already valid ids, so
  // equality is the whole check (and keeps the hot path free of byte-length computations).
  const from = m['from'];
  const to = m['to'];
  if (from !== ctx.from) fail(`${path}.from`, `(${typeof from === 'string' ? from.slice(0, 64) : typeof from}) is not the authenticated peer ${ctx.from}`);
  if (to !== ctx.to) fail(`${path}.to`, `(${typeof to === 'string' ? to.slice(0, 64) : typeof to}) is not this member ${ctx.to}`);
  if (code === APP_CODE) {
    const channel = m['channel'];
    if (typeof channel !== 'string' || channel.length === 0 || Buffer.byteLength(channel, 'utf8') > MAX_CHANNEL_BYTES) {
      fail(`${path}.channel`, `is not a string of 1..${MAX_CHANNEL_BYTES} bytes`);
    }
    return { type: 'app', from, to, channel, payload: bytes(m['payload'], `${path}.payload`) };
  }
  const type = WIRE_MESSAGE_TYPES[code] as Message['type'];
  const out: { -readonly [K in keyof Message]: Message[K] } = {
    type,
    from,
    to,
    term: uint(m['term'], `${path}.term`),
    logTerm: uint(m['logTerm'], `${path}.logTerm`),
    index: uint(m['index'], `${path}.index`),
    entries: entries(m['entries'], `${path}.entries`),
    commit: uint(m['commit'], `${path}.commit`),
    reject: bool(m['reject'], `${path}.reject`),
    rejectHint: uint(m['rejectHint'], `${path}.rejectHint`),
  };
  const snapshot = m['snapshot'];
  if (allowSnapshot) {
    if (type !== 'snapshot') fail(`${path}.type`, 'of a snapshot stream is not snapshot');
    out.snapshot = snapshotHeader(snapshot, `${path}.snapshot`);
  } else if (snapshot !== null) {
    fail(`${path}.snapshot`, 'is only allowed in a snapshot stream');
  } else if (type === 'snapshot') {
    fail(`${path}.type`, 'snapshot is only allowed in a snapshot stream');
  }
  const context = m['context'];
  if (context !== null) {
    const c = bytes(context, `${path}.context`);
    if (c.byteLength > MAX_CONTEXT_BYTES) fail(`${path}.context`, `is longer than ${MAX_CONTEXT_BYTES} bytes`);
    out.context = c;
  }
  return out;
}

/** Validates the body of a batch frame: a non-empty array of at most `maxMessages` messages. */
export function validateBatch(body: unknown, ctx: FrameContext, maxMessages: number): PeerMessage[] {
  if (!Array.isArray(body)) fail('batch', 'is not an array');
  if (body.length === 0) fail('batch', 'is empty');
  if (body.length > maxMessages) fail('batch', `has ${body.length} messages, over the limit of ${maxMessages}`);
  const out = new Array<PeerMessage>(body.length);
  for (let i = 0; i < body.length; i++) out[i] = validateMessage(body[i], ctx, `messages[${i}]`);
  return out;
}

export interface SnapshotBegin {
  readonly stream: number;
  readonly totalBytes: number;
  readonly message: Message;
}

/** Validates the body of a snapshot stream header, including its announced size. */
export function validateSnapshotBegin(body: unknown, ctx: FrameContext, maxSnapshotBytes: number): SnapshotBegin {
  const b = record(body, 'snapshotBegin');
  const stream = uint(b['stream'], 'snapshotBegin.stream');
  if (stream > 0xffffffff) fail('snapshotBegin.stream', 'is not a u32');
  const totalBytes = uint(b['totalBytes'], 'snapshotBegin.totalBytes');
  if (totalBytes > maxSnapshotBytes) fail('snapshotBegin.totalBytes', `(${totalBytes}) is over the limit of ${maxSnapshotBytes} bytes`);
  const message = validateMessage(b['message'], ctx, 'snapshotBegin.message', true);
  if (message.type === 'app') fail('snapshotBegin.message.type', 'is not snapshot');
  return { stream, totalBytes, message };
}
