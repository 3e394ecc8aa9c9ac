/**
 * etcdctl 3.4 (grpc-go of its time) sends some requests — `endpoint status` / `health` with an
 * `http://` endpoint, every `--cluster` command — with the endpoint URL itself as the HTTP/2
 * `:authority` (`http://127.0.0.1:2379`). nghttp2, under node:http2, refuses an authority holding
 * a `/` (RFC 9113 allows only host and port there) and resets the stream with PROTOCOL_ERROR
 * before any code of ours sees it; etcd's Go server accepts it. So the inbound bytes of an HTTP/2
 * connection pass through this rewriter: in each HEADERS frame, a literal `:authority` value
 * that starts with `http://` or `https://` gets its two slashes replaced by `b` (`http:bb…`, which
 * nghttp2 accepts; the authority is not used by the gRPC services). The replacement keeps every
 * length: a raw string changes two bytes; a Huffman-coded one (what grpc-go sends) two 6-bit
 * codes of the same length ('/' 011000, 'b' 100011), so frame lengths, the HPACK dynamic table's
 * sizes and every later index stay what the client computed. Anything unexpected (an unknown
 * Huffman code, a header block split over CONTINUATION frames, a frame over
 * {@link MAX_REWRITTEN_FRAME_BYTES}) is passed on unchanged: nghttp2 then decides as before.
 */

/** Bytes of the client connection preface, passed on as they are. */
const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const HEADERS_FRAME = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** A HEADERS frame larger than this is passed on without a look (the default SETTINGS_MAX_FRAME_SIZE is 16 KiB). */
export const MAX_REWRITTEN_FRAME_BYTES = 64 * 1024;
/** HPACK static table index of `:authority`. */
const AUTHORITY_INDEX = 1;

/**
 * RFC 7541 Appendix B: the Huffman codes of the printable ASCII characters (32 to 126), as bit
 * strings. test/grpc/authority-rewrite.test.ts checks every one against nghttp2's encoder.
 */
export const HUFFMAN_PRINTABLE: readonly string[] = [
  '010100', '1111111000', '1111111001', '111111111010', '1111111111001', '010101', '11111000',
  '11111111010', '1111111010', '1111111011', '11111001', '11111111011', '11111010', '010110',
  '010111', '011000', '00000', '00001', '00010', '011001', '011010', '011011', '011100', '011101',
  '011110', '011111', '1011100', '11111011', '111111111111100', '100000', '111111111011',
  '1111111100', '1111111111010', '100001', '1011101', '1011110', '1011111', '1100000', '1100001',
  '1100010', '1100011', '1100100', '1100101', '1100110', '1100111', '1101000', '1101001',
  '1101010', '1101011', '1101100', '1101101', '1101110', '1101111', '1110000', '1110001',
  '1110010', '11111100', '1110011', '11111101', '1111111111011', '1111111111111110000',
  '1111111111100', '11111111111100', '100010', '111111111111101', '00011', '100011', '00100',
  '100100', '00101', '100101', '100110', '100111', '00110', '1110100', '1110101', '101000',
  '101001', '101010', '00111', '101011', '1110110', '101100', '01000', '01001', '101101',
  '1110111', '1111000', '1111001', '1111010', '1111011', '111111111111110', '11111111100',
  '11111111111101', '1111111111101',
];

const SLASH_CODE = HUFFMAN_PRINTABLE[47 - 32] as string;
const B_CODE = HUFFMAN_PRINTABLE[98 - 32] as string;
/** Bit string → character code, for decoding. */
const DECODE = new Map<string, number>(HUFFMAN_PRINTABLE.map((bits, i) => [bits, i + 32]));
const LONGEST_CODE = Math.max(...HUFFMAN_PRINTABLE.map((b) => b.length));

/** Rewrites the inbound byte stream of one HTTP/2 connection (see the file comment). */
export class AuthorityRewriter {
  #prefaceLeft = PREFACE_BYTES;
  /** Payload bytes of the current frame to pass on unread. */
  #skip = 0;
  /** Bytes held back: an incomplete frame header, or an incomplete HEADERS frame. */
  #held: Buffer = Buffer.alloc(0);

  /** The bytes to hand on for `chunk` (possibly none yet, possibly with held bytes before). */
  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let data = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    this.#held = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.#prefaceLeft > 0 || this.#skip > 0) {
        const n = Math.min(data.length, this.#prefaceLeft > 0 ? this.#prefaceLeft : this.#skip);
        out.push(data.subarray(0, n));
        if (this.#prefaceLeft > 0) this.#prefaceLeft -= n;
        else this.#skip -= n;
        data = data.subarray(n);
        continue;
      }
      if (data.length < FRAME_HEADER_BYTES) {
        this.#held = Buffer.from(data);
        break;
      }
      const length = data.readUIntBE(0, 3);
      const type = data[3] as number;
      const flags = data[4] as number;
      if (type !== HEADERS_FRAME || length > MAX_REWRITTEN_FRAME_BYTES || (flags & FLAG_END_HEADERS) === 0) {
        out.push(data.subarray(0, FRAME_HEADER_BYTES));
        data = data.subarray(FRAME_HEADER_BYTES);
        this.#skip = length;
        continue;
      }
      const total = FRAME_HEADER_BYTES + length;
      if (data.length < total) {
        this.#held = Buffer.from(data);
        break;
      }
      // A copy: the frame is changed in place and `data` may be a view of the caller's buffer.
      const frame = Buffer.from(data.subarray(0, total));
      rewriteHeadersFrame(frame, flags);
      out.push(frame);
      data = data.subarray(total);
    }
    return out;
  }
}

/** The header block fragment of a HEADERS frame: [start, end) inside `frame`, or undefined if malformed. */
function blockOf(frame: Buffer, flags: number): { start: number; end: number } | undefined {
  let start = FRAME_HEADER_BYTES;
  let end = frame.length;
  if ((flags & FLAG_PADDED) !== 0) {
    const pad = frame[start];
    if (pad === undefined) return undefined;
    start += 1;
    end -= pad;
  }
  if ((flags & FLAG_PRIORITY) !== 0) start += 5;
  return start <= end ? { start, end } : undefined;
}

/** Rewrites the `:authority` literals of one complete HEADERS frame in place. */
export function rewriteHeadersFrame(frame: Buffer, flags: number): void {
  const block = blockOf(frame, flags);
  if (block === undefined) return;
  const r = new BlockReader(frame, block.start, block.end);
  while (!r.done) {
    const b = r.peek();
    if ((b & 0x80) !== 0) {
      if (r.integer(7) === undefined) return; // indexed field
    } else if ((b & 0xe0) === 0x20) {
      if (r.integer(5) === undefined) return; // dynamic table size update
    } else {
      const nameIndex = r.integer((b & 0xc0) === 0x40 ? 6 : 4);
      if (nameIndex === undefined) return;
      let isAuthority = nameIndex === AUTHORITY_INDEX;
      if (nameIndex === 0) {
        const name = r.string();
        if (name === undefined) return;
        isAuthority = !name.huffman && frame.toString('latin1', name.start, name.end) === ':authority';
      }
      const value = r.string();
      if (value === undefined) return;
      if (isAuthority) rewriteAuthority(frame, value);
    }
  }
}

interface StringAt {
  readonly huffman: boolean;
  readonly start: number;
  readonly end: number;
}

class BlockReader {
  readonly #buf: Buffer;
  #at: number;
  readonly #end: number;

  constructor(buf: Buffer, start: number, end: number) {
    this.#buf = buf;
    this.#at = start;
    this.#end = end;
  }

  get done(): boolean {
    return this.#at >= this.#end;
  }

  peek(): number {
    return this.#buf[this.#at] as number;
  }

  /** An HPACK integer with a `prefix`-bit prefix (RFC 7541 §5.1); undefined past the block. */
  integer(prefix: number): number | undefined {
    if (this.#at >= this.#end) return undefined;
    const max = (1 << prefix) - 1;
    let v = (this.#buf[this.#at++] as number) & max;
    if (v < max) return v;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (this.#at >= this.#end) return undefined;
      const b = this.#buf[this.#at++] as number;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    return undefined;
  }

  /** An HPACK string literal (§5.2): where its bytes are; undefined past the block. */
  string(): StringAt | undefined {
    if (this.#at >= this.#end) return undefined;
    const huffman = ((this.#buf[this.#at] as number) & 0x80) !== 0;
    const length = this.integer(7);
    if (length === undefined || this.#at + length > this.#end) return undefined;
    const start = this.#at;
    this.#at += length;
    return { huffman, start, end: this.#at };
  }
}

const SCHEMES = ['http://', 'https://'];

/** Replaces the slashes of a leading `http://` / `https://` in the authority value at `v`. */
function rewriteAuthority(frame: Buffer, v: StringAt): void {
  if (!v.huffman) {
    const text = frame.toString('latin1', v.start, v.end);
    const scheme = SCHEMES.find((s) => text.startsWith(s));
    if (scheme === undefined) return;
    frame[v.start + scheme.length - 1] = 0x62;
    frame[v.start + scheme.length - 2] = 0x62;
    return;
  }
  const decoded = decodeHuffman(frame, v.start, v.end);
  if (decoded === undefined) return;
  const scheme = SCHEMES.find((s) => decoded.text.startsWith(s));
  if (scheme === undefined) return;
  for (const k of [scheme.length - 2, scheme.length - 1]) writeBits(frame, v.start, decoded.offsets[k] as number, B_CODE);
}

/** The decoded text of a Huffman string and each character's bit offset; undefined on a code outside printable ASCII. */
function decodeHuffman(buf: Buffer, start: number, end: number): { text: string; offsets: number[] } | undefined {
  const totalBits = (end - start) * 8;
  let text = '';
  const offsets: number[] = [];
  let pos = 0;
  while (pos < totalBits) {
    let code = '';
    let found: number | undefined;
    for (let p = pos; p < totalBits && code.length < LONGEST_CODE; p++) {
      code += bitAt(buf, start, p) ? '1' : '0';
      found = DECODE.get(code);
      if (found !== undefined) break;
    }
    if (found === undefined) {
      // Padding: fewer than 8 bits, all ones (the EOS prefix).
      return totalBits - pos < 8 && !code.includes('0') ? { text, offsets } : undefined;
    }
    offsets.push(pos);
    text += String.fromCharCode(found);
    pos += code.length;
  }
  return { text, offsets };
}

function bitAt(buf: Buffer, start: number, bit: number): boolean {
  return (((buf[start + (bit >> 3)] as number) >> (7 - (bit & 7))) & 1) === 1;
}

/** Overwrites the bits at `bit` with `code` (same length as what was there: SLASH_CODE's). */
function writeBits(buf: Buffer, start: number, bit: number, code: string): void {
  if (code.length !== SLASH_CODE.length) return;
  for (let i = 0; i < code.length; i++) {
    const b = bit + i;
    const at = start + (b >> 3);
    const mask = 1 << (7 - (b & 7));
    buf[at] = code[i] === '1' ? (buf[at] as number) | mask : (buf[at] as number) & ~mask;
  }
}
