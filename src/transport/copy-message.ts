/**
 * A deep copy of a peer message for the in-memory network: the receiver gets what a real
 * transport's encode + decode would give it, sharing nothing with the sender.
 *
 * Not `structuredClone`: it copies a typed array's whole backing ArrayBuffer, and entry data are
 * views into Node's shared 8 KiB buffer pool (node/codec.ts takes envelopes from it). Cloned that
 * way, every entry cost 8 KiB of copying per hop and kept 8 KiB alive in each follower's log until
 * the next snapshot (three members in one process spent half their CPU there).
 */
import type { PeerMessage } from '../protocol/types.ts';

export function copyMessage(message: PeerMessage): PeerMessage {
  return copyValue(message) as PeerMessage;
}

function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  // Exactly the viewed bytes, into a buffer of their own (a Buffer arrives as a Uint8Array, as
  // from structuredClone).
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(copyValue);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) out[key] = copyValue(field);
    return out;
  }
  // Nothing in a PeerMessage is anything else; should a field ever be, it is still copied.
  return structuredClone(value);
}
