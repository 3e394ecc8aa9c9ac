/**
 * The limits that cross layers, in one place: a request accepted by the node (src/node, the
 * gateway) becomes a Raft entry (src/raft) inside an append message, which the ws transport
 * carries in one frame. Each layer validates its own option against these numbers, and the
 * relations between them are asserted when this module loads, so a default changed in one
 * layer cannot silently make another layer drop what the first accepted.
 *
 * The relations hold for the transport's default `maxPayloadBytes`; a custom transport with a
 * smaller frame limit must keep `maxRequestBytes` correspondingly lower.
 */
import { assert } from './assert.ts';

const KIB = 1024;
const MIB = 1024 * KIB;

/** Default largest request (a put's key + value, a txn) in bytes, as etcd's `--max-request-bytes`. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * MIB;
/** Smallest accepted `maxRequestBytes`: below it, ordinary keys and headers no longer fit. */
export const MIN_MAX_REQUEST_BYTES = 64;
/** Default most operations in one txn (etcd's `--max-txn-ops`). */
export const DEFAULT_MAX_TXN_OPS = 128;
/** Default largest key in bytes. */
export const DEFAULT_MAX_KEY_BYTES = 8192;

/** Bytes the node's proposal envelope (version, proposal id, msgpack headers) adds to a request. */
export const ENTRY_ENVELOPE_BYTES = 4 * KIB;
/** Default most entry bytes in one Raft append message (docs/design.md, "Defaults and limits"). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 * MIB;
/**
 * How much larger than its entry data an append message can get on the wire: each entry adds at
 * most 32 bytes of headers (term, index, type, length) and holds at least the 18-byte envelope,
 * so a message of small entries stays under three times its data.
 */
export const MESSAGE_EXPANSION_FACTOR = 3;

/** Headroom in a transport frame beyond a batch's payload (frame kind, msgpack headers). */
export const FRAME_OVERHEAD_BYTES = 1024;
/** Bytes before the raw data of a snapshot chunk frame. */
export const CHUNK_HEADER_BYTES = 13;
/** Default largest inbound ws frame (ws `maxPayload`). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * MIB;
/** Smallest accepted ws `maxPayloadBytes`. */
export const MIN_MAX_PAYLOAD_BYTES = 64 * KIB;
/** Default target size of one outbound ws batch. */
export const DEFAULT_MAX_BATCH_BYTES = 1 * MIB;
/** Default snapshot stream chunk size. */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 256 * KIB;

/** The Raft message size a node with this `maxRequestBytes` needs: one request always fits. */
export function maxMessageBytesFor(maxRequestBytes: number): number {
  return Math.max(DEFAULT_MAX_MESSAGE_BYTES, maxRequestBytes + ENTRY_ENVELOPE_BYTES);
}

/** The largest frame an append message carrying `maxMessageBytes` of entries can need. */
export function frameBytesFor(maxMessageBytes: number): number {
  return maxMessageBytes * MESSAGE_EXPANSION_FACTOR + FRAME_OVERHEAD_BYTES;
}

/**
 * The largest `maxRequestBytes` a node accepts: its append messages must still fit the
 * transport's default frame (checked below). etcd allows larger requests, but a request this
 * big is better stored elsewhere with its key in the store.
 */
export const MAX_MAX_REQUEST_BYTES = 5 * MIB;

assert(MIN_MAX_REQUEST_BYTES <= DEFAULT_MAX_REQUEST_BYTES, 'limits', 'the minimum request limit is above the default');
assert(DEFAULT_MAX_REQUEST_BYTES <= MAX_MAX_REQUEST_BYTES, 'limits', 'the default request limit is above the maximum');
assert(DEFAULT_MAX_KEY_BYTES <= DEFAULT_MAX_REQUEST_BYTES, 'limits', 'a default-size key does not fit a default-size request');
assert(frameBytesFor(maxMessageBytesFor(MAX_MAX_REQUEST_BYTES)) <= DEFAULT_MAX_PAYLOAD_BYTES, 'limits', 'the largest request does not fit a ws frame');
assert(frameBytesFor(DEFAULT_MAX_MESSAGE_BYTES) <= DEFAULT_MAX_PAYLOAD_BYTES, 'limits', 'a default append message does not fit a ws frame');
assert(DEFAULT_MAX_BATCH_BYTES + FRAME_OVERHEAD_BYTES <= DEFAULT_MAX_PAYLOAD_BYTES, 'limits', 'a default batch does not fit a ws frame');
assert(DEFAULT_SNAPSHOT_CHUNK_BYTES + CHUNK_HEADER_BYTES <= DEFAULT_MAX_PAYLOAD_BYTES, 'limits', 'a default snapshot chunk does not fit a ws frame');
assert(DEFAULT_SNAPSHOT_CHUNK_BYTES + CHUNK_HEADER_BYTES <= MIN_MAX_PAYLOAD_BYTES * 8, 'limits', 'a default snapshot chunk is far above the smallest frame');
