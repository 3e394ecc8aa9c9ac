/**
 * The ws transport's wire format: one WebSocket binary message is one frame, `[kind: u8][body]`.
 *
 * | kind | body |
 * |---|---|
 * | 1 batch | msgpack array of wire messages (records of the fixed structure table below) |
 * | 2 snapshotBegin | msgpack `{ stream, totalBytes, message }`; `message.snapshot.data` is empty |
 * | 3 snapshotChunk | `stream: u32 BE`, `offset: u64 BE`, then raw snapshot bytes |
 * | 4 snapshotEnd | `stream: u32 BE` |
 * | 5 snapshotAck | `stream: u32 BE`, `ok: u8` (receiver → sender, on the same connection) |
 *
 * The msgpackr structure table is FIXED and part of {@link WIRE_FORMAT_VERSION}: both sides build
 * it from this file, nothing is ever added to it at run time, so a peer that restarts decodes the
 * very next frame. Changing the table, the codes or the frame layout means bumping the version,
 * which the handshake checks. Message types travel as small integer codes (table below).
 */
import { CHUNK_HEADER_BYTES } from '../limits.ts';
import { Packr, Unpackr, RESERVE_START_SPACE } from 'msgpackr';
import type { Entry, Message, MessageType, PeerMessage } from '../protocol/types.ts';
import { ProtocolError } from '../errors.ts';

/** Version of the frame layout and structure table; checked at the handshake. */
export const WIRE_FORMAT_VERSION = 1;

export const FRAME_BATCH = 1;
export const FRAME_SNAPSHOT_BEGIN = 2;
export const FRAME_SNAPSHOT_CHUNK = 3;
export const FRAME_SNAPSHOT_END = 4;
export const FRAME_SNAPSHOT_ACK = 5;

/** Bytes before the raw data of a snapshot chunk frame (src/limits.ts). */
export { CHUNK_HEADER_BYTES };

/** Wire codes of message types. Append-only within a wire version; the index is the code. */
export const WIRE_MESSAGE_TYPES: readonly (MessageType | 'app')[] = Object.freeze([
  'append',
  'appendResponse',
  'vote',
  'voteResponse',
  'preVote',
  'preVoteResponse',
  'heartbeat',
  'heartbeatResponse',
  'snapshot',
  'timeoutNow',
  'readIndex',
  'readIndexResponse',
  'propose',
  'app',
]);
export const APP_CODE = WIRE_MESSAGE_TYPES.indexOf('app');
const CODE_OF = new Map(WIRE_MESSAGE_TYPES.map((t, i) => [t, i]));

/** Wire codes of entry types. */
export const WIRE_ENTRY_TYPES: readonly Entry['type'][] = Object.freeze(['normal', 'confChange']);

/**
 * The fixed structure table (msgpackr record ids 0x40…). Key order matters: the encoder below
 * builds objects with exactly these keys in exactly this order.
 */
const STRUCTURES: readonly (readonly string[])[] = Object.freeze([
  Object.freeze(['t', 'from', 'to', 'term', 'logTerm', 'index', 'entries', 'commit', 'reject', 'rejectHint', 'snapshot', 'context']),
  Object.freeze(['term', 'index', 't', 'data']),
  Object.freeze(['t', 'from', 'to', 'channel', 'payload']),
  Object.freeze(['meta', 'data']),
  Object.freeze(['index', 'term', 'confState']),
  Object.freeze(['voters', 'learners']),
  Object.freeze(['stream', 'totalBytes', 'message']),
]);

type StructureTable = string[][] & { isShared?: boolean };

/**
 * A fresh mutable copy of the table (msgpackr annotates the arrays it is given). Marking each
 * structure shared makes msgpackr restore it after any frame that redefines its id inline, so a
 * hostile frame cannot corrupt the decoder for later frames (checked in test/transport/wire.test.ts).
 */
function structureTable(): StructureTable {
  return STRUCTURES.map((keys) => Object.assign([...keys], { isShared: true }));
}

const EMPTY = new Uint8Array(0);

export type DecodedFrame =
  | { readonly kind: 'batch'; readonly body: unknown }
  | { readonly kind: 'snapshotBegin'; readonly body: unknown }
  | { readonly kind: 'snapshotChunk'; readonly stream: number; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly kind: 'snapshotEnd'; readonly stream: number }
  | { readonly kind: 'snapshotAck'; readonly stream: number; readonly ok: boolean };

function wireEntry(e: Entry): object {
  return { term: e.term, index: e.index, t: e.type === 'confChange' ? 1 : 0, data: e.data };
}

function wireMessage(m: PeerMessage, withSnapshot: boolean): object {
  if (m.type === 'app') return { t: APP_CODE, from: m.from, to: m.to, channel: m.channel, payload: m.payload };
  const snapshot =
    withSnapshot && m.snapshot !== undefined
      ? {
          meta: {
            index: m.snapshot.meta.index,
            term: m.snapshot.meta.term,
            confState: { voters: m.snapshot.meta.confState.voters, learners: m.snapshot.meta.confState.learners },
          },
          data: EMPTY,
        }
      : null;
  return {
    t: CODE_OF.get(m.type) ?? -1,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(wireEntry),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    snapshot,
    context: m.context ?? null,
  };
}

/** Encodes and decodes frames. One instance per transport; not shared across threads. */
export class WireCodec {
  readonly #packr = new Packr({ structures: structureTable(), maxSharedStructures: STRUCTURES.length, useRecords: true });
  readonly #unpackr = new Unpackr({ structures: structureTable(), maxSharedStructures: STRUCTURES.length, mapsAsObjects: true });

  /** A batch frame. Snapshot payloads never travel in batches (see {@link encodeSnapshotBegin}). */
  encodeBatch(messages: readonly PeerMessage[]): Buffer {
    const frame = this.#packr.pack(messages.map((m) => wireMessage(m, false)), RESERVE_START_SPACE | 1);
    frame[0] = FRAME_BATCH;
    return frame;
  }

  /** The first frame of a snapshot stream: the message without its data, and the data's size. */
  encodeSnapshotBegin(stream: number, message: Message, totalBytes: number): Buffer {
    const body = { stream, totalBytes, message: wireMessage(message, true) };
    const frame = this.#packr.pack(body, RESERVE_START_SPACE | 1);
    frame[0] = FRAME_SNAPSHOT_BEGIN;
    return frame;
  }

  encodeSnapshotChunk(stream: number, offset: number, bytes: Uint8Array): Buffer {
    const frame = Buffer.allocUnsafe(CHUNK_HEADER_BYTES + bytes.byteLength);
    frame[0] = FRAME_SNAPSHOT_CHUNK;
    frame.writeUInt32BE(stream, 1);
    frame.writeBigUInt64BE(BigInt(offset), 5);
    frame.set(bytes, CHUNK_HEADER_BYTES);
    return frame;
  }

  encodeSnapshotEnd(stream: number): Buffer {
    const frame = Buffer.allocUnsafe(5);
    frame[0] = FRAME_SNAPSHOT_END;
    frame.writeUInt32BE(stream, 1);
    return frame;
  }

  encodeSnapshotAck(stream: number, ok: boolean): Buffer {
    const frame = Buffer.allocUnsafe(6);
    frame[0] = FRAME_SNAPSHOT_ACK;
    frame.writeUInt32BE(stream, 1);
    frame[5] = ok ? 1 : 0;
    return frame;
  }

  /**
   * Splits a frame into its kind and undecoded-or-decoded body. Throws {@link ProtocolError} for
   * anything malformed; the body of batch/begin frames still needs `validate.ts`.
   */
  decodeFrame(frame: Uint8Array): DecodedFrame {
    if (frame.byteLength < 1) throw new ProtocolError('transport: empty frame');
    const kind = frame[0];
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    switch (kind) {
      case FRAME_BATCH:
        return { kind: 'batch', body: this.#unpack(frame) };
      case FRAME_SNAPSHOT_BEGIN:
        return { kind: 'snapshotBegin', body: this.#unpack(frame) };
      case FRAME_SNAPSHOT_CHUNK: {
        if (frame.byteLength < CHUNK_HEADER_BYTES) throw new ProtocolError('transport: short snapshot chunk frame');
        const offset = view.getBigUint64(5);
        if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('transport: snapshot chunk offset is not a safe integer');
        return { kind: 'snapshotChunk', stream: view.getUint32(1), offset: Number(offset), bytes: frame.subarray(CHUNK_HEADER_BYTES) };
      }
      case FRAME_SNAPSHOT_END:
        if (frame.byteLength !== 5) throw new ProtocolError(`transport: snapshot end frame is ${frame.byteLength} bytes, expected 5`);
        return { kind: 'snapshotEnd', stream: view.getUint32(1) };
      case FRAME_SNAPSHOT_ACK: {
        if (frame.byteLength !== 6) throw new ProtocolError(`transport: snapshot ack frame is ${frame.byteLength} bytes, expected 6`);
        const ok = frame[5];
        if (ok !== 0 && ok !== 1) throw new ProtocolError('transport: snapshot ack flag is not 0 or 1');
        return { kind: 'snapshotAck', stream: view.getUint32(1), ok: ok === 1 };
      }
      default:
        throw new ProtocolError(`transport: unknown frame kind ${String(kind)}`);
    }
  }

  #unpack(frame: Uint8Array): unknown {
    try {
      return this.#unpackr.unpack(frame.subarray(1)) as unknown;
    } catch (err) {
      throw new ProtocolError(`transport: undecodable msgpack body: ${err instanceof Error ? err.message.slice(0, 120) : 'unknown error'}`, { cause: err });
    }
  }
}

/**
 * A cheap size estimate of a message for queue accounting (bytes). Payload bytes dominate; the
 * fixed part covers the numeric fields and framing.
 */
export function estimateMessageBytes(m: PeerMessage): number {
  if (m.type === 'app') return 32 + m.from.length + m.to.length + m.channel.length + m.payload.byteLength;
  let bytes = 48 + m.from.length + m.to.length + (m.context?.byteLength ?? 0);
  for (const e of m.entries) bytes += 24 + e.data.byteLength;
  if (m.snapshot !== undefined) bytes += 64 + m.snapshot.data.byteLength;
  return bytes;
}
