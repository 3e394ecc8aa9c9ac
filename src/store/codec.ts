/**
 * Commands on the wire and in the log: a plain put in its binary form (put-codec.ts, first byte
 * 0xc1), everything else as msgpackr maps (no records extension, no shared structures, so any
 * member decodes any entry regardless of what it decoded before). Decoding validates the shape,
 * so bad bytes become an InvalidArgumentError, never a crash inside apply.
 */
import { Packr } from 'msgpackr';
import { InvalidArgumentError } from '../errors.ts';
import { BINARY_COMMAND_TAG, decodePlainPut, encodePlainPut } from './put-codec.ts';
import type { Command } from './types.ts';
import { checkCommand, resolveLimits } from './validate.ts';
import type { ResolvedLimits } from './validate.ts';

/**
 * Shared by commands and snapshots: plain maps/arrays, deterministic bytes for equal input.
 * Decoded values are views into the decoded bytes (no copy per value): the keyspace copies
 * what it keeps into its arena (value-arena.ts), so it never holds on to the command's or the
 * snapshot's buffer.
 */
export const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function encodeCommand(cmd: Command): Uint8Array {
  return encodePlainPut(cmd) ?? packr.pack(cmd);
}

// Decoding checks shape only; the store's own limits are enforced by validate()/apply().
const SHAPE_LIMITS: ResolvedLimits = resolveLimits({ maxRequestBytes: Number.MAX_SAFE_INTEGER, maxTxnOps: 1_000_000, maxKeyBytes: Number.MAX_SAFE_INTEGER });

export function decodeCommand(bytes: Uint8Array): Command {
  if (bytes[0] === BINARY_COMMAND_TAG) {
    const cmd = decodePlainPut(bytes);
    checkCommand(cmd, SHAPE_LIMITS, false);
    return cmd;
  }
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes);
  } catch (err) {
    throw new InvalidArgumentError('mvcc: command bytes do not decode', { cause: err });
  }
  checkCommand(decoded, SHAPE_LIMITS, false);
  return plainBytes(decoded) as Command;
}

/**
 * The decoder hands out Node Buffers; the store keeps plain Uint8Array views over the same
 * (already copied) bytes so decoded and locally built commands behave identically.
 */
function plainBytes(x: unknown): unknown {
  if (x instanceof Uint8Array) return x.constructor === Uint8Array ? x : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) x[i] = plainBytes(x[i]);
  } else if (typeof x === 'object' && x !== null) {
    // for…in, not Object.keys: no key array per object on every apply (decoded maps are plain
    // objects with own enumerable keys only).
    const o = x as Record<string, unknown>;
    for (const k in o) o[k] = plainBytes(o[k]);
  }
  return x;
}
