/**
 * gRPC message framing over an HTTP/2 stream: each message is a 1-byte compressed flag, a 4-byte
 * big-endian length, then the bytes. The parser holds at most one message (bounded by
 * `maxMessageBytes`, checked from the 5-byte prefix before any of the body is buffered).
 */
import { GrpcError, Status } from './status.ts';

export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export class FrameParser {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the message being read, once its prefix is in. */
  #need = -1;

  constructor(maxMessageBytes: number) {
    this.#max = maxMessageBytes;
  }

  /** Whether a message has started but not finished (a stream ending here is truncated). */
  get partial(): boolean {
    return this.#buffered > 0 || this.#need >= 0;
  }

  /** Feeds a chunk; returns the messages it completed. Throws GrpcError on a bad prefix. */
  push(chunk: Buffer): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 5) return out;
        const head = this.#take(5);
        const flag = head[0] as number;
        if (flag === 1) throw new GrpcError(Status.UNIMPLEMENTED, 'grpc: compressed messages are not supported (send grpc-encoding identity)');
        if (flag !== 0) throw new GrpcError(Status.INTERNAL, `grpc: invalid message flag ${flag}`);
        const len = head.readUInt32BE(1);
        if (len > this.#max) throw new GrpcError(Status.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${len} vs. ${this.#max})`);
        this.#need = len;
      }
      if (this.#buffered < this.#need) return out;
      out.push(this.#take(this.#need));
      this.#need = -1;
    }
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const all = Buffer.concat(this.#chunks);
    const out = all.subarray(0, n);
    this.#chunks = all.length > n ? [all.subarray(n)] : [];
    this.#buffered -= n;
    return out;
  }
}

/** `grpc-timeout` (e.g. `5S`, `100m`, `250000u`) in ms, or undefined when absent; INVALID_ARGUMENT when malformed. */
export function parseGrpcTimeout(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw[0] ?? '' : raw;
  const m = /^(\d{1,8})([HMSmun])$/.exec(text);
  if (m === null) throw new GrpcError(Status.INVALID_ARGUMENT, `grpc: malformed grpc-timeout ${JSON.stringify(text.slice(0, 32))}`);
  const n = Number(m[1]);
  const perMs: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
  return n * (perMs[m[2] as string] as number);
}
