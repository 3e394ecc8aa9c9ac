/**
 * Protobuf wire format (proto3), hand-written: a bounds-checked reader that throws
 * {@link ProtoDecodeError} on any malformed input (truncated varints, lengths past the end, wire
 * types that do not match the field, groups) and a growable writer. Unknown fields are skipped, as
 * proto3 requires. int64/uint64 are read as bigint and converted explicitly by the caller, so a
 * 64-bit id is never rounded through a double.
 */
import { InvalidArgumentError } from '../errors.ts';

/** Malformed protobuf bytes; the server answers INVALID_ARGUMENT. */
export class ProtoDecodeError extends InvalidArgumentError {
  constructor(detail: string) {
    super(`grpc: malformed protobuf message: ${detail}`);
  }
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const MAX_U64 = (1n << 64n) - 1n;
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

export class ProtoReader {
  readonly #buf: Uint8Array;
  #pos: number;
  readonly #end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.#pos >= this.#end;
  }

  /** The next field's number and wire type. */
  tag(): { readonly field: number; readonly wire: number } {
    const raw = this.#varint32();
    const field = raw >>> 3;
    const wire = raw & 7;
    if (field === 0) throw new ProtoDecodeError('field number 0');
    return { field, wire };
  }

  #varint32(): number {
    const v = this.#smallVarint();
    if (v !== undefined) {
      if (v > 0xffffffff) throw new ProtoDecodeError('tag over 32 bits');
      return v;
    }
    const big = this.uint64();
    if (big > 0xffffffffn) throw new ProtoDecodeError('tag over 32 bits');
    return Number(big);
  }

  /**
   * Fast path: a varint of at most 7 bytes (< 2^49) as a number, without BigInt; undefined (and
   * nothing consumed) when it is longer or truncated, for the exact path to handle.
   */
  #smallVarint(): number | undefined {
    let result = 0;
    let mul = 1;
    const limit = Math.min(this.#end, this.#pos + 7);
    for (let p = this.#pos; p < limit; p++) {
      const b = this.#buf[p] as number;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        this.#pos = p + 1;
        return result;
      }
      mul *= 128;
    }
    return undefined;
  }

  /** An int64 known to be a safe integer, as a number (INVALID_ARGUMENT otherwise). */
  int53(field: string): number {
    const v = this.#smallVarint();
    if (v !== undefined) return v;
    return safeInt(this.int64(), field);
  }

  /** A varint as an unsigned 64-bit bigint (at most 10 bytes). */
  uint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.#end) throw new ProtoDecodeError('truncated varint');
      const b = this.#buf[this.#pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (result > MAX_U64) throw new ProtoDecodeError('varint over 64 bits');
        return result;
      }
      shift += 7n;
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** A varint read as a two's-complement int64. */
  int64(): bigint {
    return BigInt.asIntN(64, this.uint64());
  }

  /** A small non-negative varint (enum, bool, int32 fields). */
  uint32(): number {
    return Number(BigInt.asUintN(32, this.uint64()));
  }

  int32(): number {
    return Number(BigInt.asIntN(32, this.uint64()));
  }

  bool(): boolean {
    const v = this.#smallVarint();
    return v !== undefined ? v !== 0 : this.uint64() !== 0n;
  }

  bytes(): Uint8Array {
    const small = this.#smallVarint();
    const len = small === undefined ? this.uint64() : 0n;
    if (small !== undefined ? small > this.#end - this.#pos : len > BigInt(this.#end - this.#pos)) throw new ProtoDecodeError('length past the end of the message');
    const n = small ?? Number(len);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  string(field: string): string {
    try {
      return utf8Strict.decode(this.bytes());
    } catch (err) {
      if (err instanceof ProtoDecodeError) throw err;
      throw new ProtoDecodeError(`${field} is not valid UTF-8`);
    }
  }

  /** A sub-reader over an embedded message. */
  message(): ProtoReader {
    const b = this.bytes();
    return new ProtoReader(b);
  }

  /** Skips a field of `wire` type (unknown fields are ignored, as proto3 requires). */
  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.uint64();
        return;
      case WIRE_I64:
        this.#advance(8);
        return;
      case WIRE_LEN:
        this.bytes();
        return;
      case WIRE_I32:
        this.#advance(4);
        return;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
  }

  #advance(n: number): void {
    if (this.#end - this.#pos < n) throw new ProtoDecodeError('truncated fixed-width field');
    this.#pos += n;
  }
}

/** Throws unless the field arrived with the wire type its declaration implies. */
export function expectWire(actual: number, expected: number, field: string): void {
  if (actual !== expected) throw new ProtoDecodeError(`field ${field} has wire type ${actual}, expected ${expected}`);
}

/**
 * Iterates a message's fields: `onField` handles the ones it knows and returns false for the
 * rest, which are skipped.
 */
export function readFields(r: ProtoReader, onField: (field: number, wire: number) => boolean): void {
  while (!r.done) {
    const { field, wire } = r.tag();
    if (!onField(field, wire)) r.skip(wire);
  }
}

export class ProtoWriter {
  #buf: Uint8Array;
  #pos = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }

  #varint(v: bigint): void {
    let x = BigInt.asUintN(64, v);
    this.#ensure(10);
    while (x >= 0x80n) {
      this.#buf[this.#pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.#buf[this.#pos++] = Number(x);
  }

  #small(v: number): void {
    // Fast path for non-negative values below 2^31 (tags, lengths, enums).
    this.#ensure(5);
    let x = v >>> 0;
    while (x >= 0x80) {
      this.#buf[this.#pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    this.#buf[this.#pos++] = x;
  }

  #tag(field: number, wire: number): void {
    this.#small((field << 3) | wire);
  }

  /** An int64/uint64 field; left out when zero (proto3 default). */
  int(field: number, v: bigint | number): this {
    if (v === 0 || v === 0n) return this;
    this.#tag(field, WIRE_VARINT);
    if (typeof v === 'number' && v > 0 && v < 0x80000000) this.#small(v);
    else this.#varint(typeof v === 'number' ? BigInt(v) : v);
    return this;
  }

  bool(field: number, v: boolean): this {
    if (!v) return this;
    this.#tag(field, WIRE_VARINT);
    this.#small(1);
    return this;
  }

  bytes(field: number, v: Uint8Array): this {
    if (v.length === 0) return this;
    return this.bytesAlways(field, v);
  }

  /** A length-delimited field written even when empty (repeated bytes elements). */
  bytesAlways(field: number, v: Uint8Array): this {
    this.#tag(field, WIRE_LEN);
    this.#small(v.length);
    this.#ensure(v.length);
    this.#buf.set(v, this.#pos);
    this.#pos += v.length;
    return this;
  }

  string(field: number, v: string): this {
    if (v === '') return this;
    return this.bytesAlways(field, utf8.encode(v));
  }

  /** A repeated string element (written even when empty). */
  stringAlways(field: number, v: string): this {
    return this.bytesAlways(field, utf8.encode(v));
  }

  /** An embedded message, written by `write` into a nested writer (always present). */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter(64);
    write(inner);
    return this.bytesAlways(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }
}

/** An int64 as a safe JS integer, or INVALID_ARGUMENT naming the field (never rounded). */
export function safeInt(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new InvalidArgumentError(`grpc: ${field} ${v} is outside the supported range (|n| < 2^53)`);
  }
  return Number(v);
}
