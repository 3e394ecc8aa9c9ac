/**
 * The binary form of a plain put: the command on nearly every entry, which every member decodes
 * once per apply. As a msgpack map it cost ~1.8 µs to decode and ~0.5 µs to encode here (a map,
 * a nested map, a copied Buffer turned into a plain Uint8Array, per member per put); this form
 * costs a fraction of that and leaves less garbage (docs/store.md, "Command bytes").
 *
 *   0xc1 | 1 (form) | flags (u8) | key length (u32 LE) | key (UTF-8) | [lease (f64 LE)] | value (the rest)
 *
 * 0xc1 is the one byte msgpack never uses, so a command starting with it cannot be a msgpack
 * command from an older log, and the decoder tells the two apart by the first byte. Only puts
 * whose request holds nothing beyond key, value, lease and the three booleans take this form; a
 * put with `expect` (or anything else) stays msgpack. A boolean's flags keep "absent" apart from
 * `false`, so decoding gives back the request's fields as they were.
 */
import { InvalidArgumentError } from '../errors.ts';
import type { Command, PutRequest } from './types.ts';

export const BINARY_COMMAND_TAG = 0xc1;
const PLAIN_PUT_FORM = 1;
const HEADER_BYTES = 7;

const PREV_KV_SET = 1 << 0;
const PREV_KV = 1 << 1;
const IGNORE_VALUE_SET = 1 << 2;
const IGNORE_VALUE = 1 << 3;
const IGNORE_LEASE_SET = 1 << 4;
const IGNORE_LEASE = 1 << 5;
const LEASE_SET = 1 << 6;
const KNOWN_FLAGS = (1 << 7) - 1;

// ignoreBOM: a key may start with U+FEFF, and it is part of the key (the default would strip it).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bad(message: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`mvcc: bad put command bytes: ${message}`, cause === undefined ? undefined : { cause });
}

/** Whether the command has exactly the shape this form carries (else it is encoded as msgpack). */
function isPlainPut(cmd: Command): cmd is { readonly type: 'put'; readonly request: PutRequest } {
  if (cmd.type !== 'put') return false;
  for (const k in cmd) if (k !== 'type' && k !== 'request') return false;
  const r = cmd.request as unknown;
  if (typeof r !== 'object' || r === null) return false;
  const req = r as Record<string, unknown>;
  for (const k in req) {
    const v = req[k];
    if (v === undefined) continue;
    switch (k) {
      case 'key':
        if (typeof v !== 'string') return false;
        break;
      case 'value':
        if (!(v instanceof Uint8Array)) return false;
        break;
      case 'lease':
        if (typeof v !== 'number') return false;
        break;
      case 'prevKv':
      case 'ignoreValue':
      case 'ignoreLease':
        if (typeof v !== 'boolean') return false;
        break;
      default:
        return false;
    }
  }
  return typeof req['key'] === 'string' && req['value'] instanceof Uint8Array;
}

function boolFlags(v: boolean | undefined, set: number, on: number): number {
  return v === undefined ? 0 : v ? set | on : set;
}

/** The binary form of `cmd`, or undefined when it is not a plain put. */
export function encodePlainPut(cmd: Command): Uint8Array | undefined {
  if (!isPlainPut(cmd)) return undefined;
  const { key, value, lease, prevKv, ignoreValue, ignoreLease } = cmd.request;
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  const keyBytes = ascii ? key.length : Buffer.byteLength(key, 'utf8');
  const leaseBytes = lease === undefined ? 0 : 8;
  // Every byte is written below; allocUnsafe serves small commands from Node's shared pool.
  const out = Buffer.allocUnsafe(HEADER_BYTES + keyBytes + leaseBytes + value.length);
  out[0] = BINARY_COMMAND_TAG;
  out[1] = PLAIN_PUT_FORM;
  out[2] =
    boolFlags(prevKv, PREV_KV_SET, PREV_KV) |
    boolFlags(ignoreValue, IGNORE_VALUE_SET, IGNORE_VALUE) |
    boolFlags(ignoreLease, IGNORE_LEASE_SET, IGNORE_LEASE) |
    (lease === undefined ? 0 : LEASE_SET);
  out.writeUInt32LE(keyBytes, 3);
  let at = HEADER_BYTES;
  if (ascii) for (let i = 0; i < key.length; i++) out[at + i] = key.charCodeAt(i);
  else out.write(key, at, keyBytes, 'utf8');
  at += keyBytes;
  if (lease !== undefined) {
    // -0 is written as 0, as msgpack writes it: a member restored from a snapshot holds 0.
    out.writeDoubleLE(lease === 0 ? 0 : lease, at);
    at += 8;
  }
  out.set(value, at);
  return out;
}

function readU32LE(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) + (b[at + 3] as number) * 0x1000000;
}

// Scratch for the lease: no DataView per command, and no `.buffer` access on the caller's bytes.
const f64Bytes = new Uint8Array(8);
const f64View = new DataView(f64Bytes.buffer);

/**
 * Decodes the binary form (bytes[0] is BINARY_COMMAND_TAG). The value is a view into `bytes`:
 * the keyspace copies what it keeps into its arena, so it never keeps a view into a log read or a
 * network frame. Typed errors for anything malformed.
 */
export function decodePlainPut(bytes: Uint8Array): Command {
  if (bytes.length < HEADER_BYTES) throw bad('truncated header');
  if (bytes[1] !== PLAIN_PUT_FORM) throw bad(`unknown form ${String(bytes[1])}`);
  const flags = bytes[2] as number;
  if ((flags & ~KNOWN_FLAGS) !== 0) throw bad(`unknown flags 0x${flags.toString(16)}`);
  // A boolean's value bit without its presence bit is never written: such bytes are not ours.
  if ((flags & PREV_KV) !== 0 && (flags & PREV_KV_SET) === 0) throw bad('prevKv value without presence');
  if ((flags & IGNORE_VALUE) !== 0 && (flags & IGNORE_VALUE_SET) === 0) throw bad('ignoreValue value without presence');
  if ((flags & IGNORE_LEASE) !== 0 && (flags & IGNORE_LEASE_SET) === 0) throw bad('ignoreLease value without presence');
  const keyBytes = readU32LE(bytes, 3);
  let at = HEADER_BYTES;
  if (keyBytes > bytes.length - at) throw bad('key runs past the end');
  let key: string;
  try {
    key = utf8Decoder.decode(bytes.subarray(at, at + keyBytes));
  } catch (err) {
    throw bad('key is not UTF-8', err);
  }
  at += keyBytes;
  let lease: number | undefined;
  if ((flags & LEASE_SET) !== 0) {
    if (bytes.length - at < 8) throw bad('lease runs past the end');
    for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[at + i] as number;
    lease = f64View.getFloat64(0, true);
    at += 8;
  }
  const value = new Uint8Array(bytes.buffer, bytes.byteOffset + at, bytes.length - at);
  const request: { key: string; value: Uint8Array; lease?: number; prevKv?: boolean; ignoreValue?: boolean; ignoreLease?: boolean } = { key, value };
  if (lease !== undefined) request.lease = lease;
  if ((flags & PREV_KV_SET) !== 0) request.prevKv = (flags & PREV_KV) !== 0;
  if ((flags & IGNORE_VALUE_SET) !== 0) request.ignoreValue = (flags & IGNORE_VALUE) !== 0;
  if ((flags & IGNORE_LEASE_SET) !== 0) request.ignoreLease = (flags & IGNORE_LEASE) !== 0;
  return { type: 'put', request };
}
