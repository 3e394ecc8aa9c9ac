/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven with slicing-by-16.
 *
 * Why CRC-32C: it is the checksum of etcd's WAL, ext4 metadata, iSCSI and SCTP; for the record
 * sizes a WAL holds it detects every burst error up to 32 bits and has a larger minimum Hamming
 * distance than the IEEE polynomial. Why hand-written: Node 20 has no CRC-32C built in (zlib's
 * crc32 arrived later and is the IEEE polynomial), the algorithm is ~60 lines, and a dependency
 * would sit on the durability path. Why slicing-by-16 with word reads: it consumes 16 bytes per
 * step with sixteen independent lookups into one flat 16 KiB table, reading the data as four
 * aligned 32-bit words on little-endian hosts; about 2× faster in V8 than slicing-by-8 with byte
 * reads and 5× faster than a byte-at-a-time loop (measured in bench/storage.bench.ts).
 */

const POLYNOMIAL = 0x82f63b78;
const SLICES = 16;

/** `TABLE[k * 256 + b]`: CRC of byte `b` followed by `k` zero bytes. One array keeps lookups local. */
const TABLE: Uint32Array = buildTable();

function buildTable(): Uint32Array {
  const t = new Uint32Array(256 * SLICES);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let k = 1; k < SLICES; k++) {
    for (let n = 0; n < 256; n++) {
      const p = t[(k - 1) * 256 + n] as number;
      t[k * 256 + n] = ((p >>> 8) ^ (t[p & 0xff] as number)) >>> 0;
    }
  }
  return t;
}

/** Int32Array reads are in host byte order; the word loop needs little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this many bytes the word loop's setup (alignment, a typed-array view) does not pay. */
const WORD_LOOP_MIN_BYTES = 64;

/** One slicing-by-16 step: the CRC state after the 16 bytes given as four little-endian words. */
function step16(c: number, w0: number, w1: number, w2: number, w3: number): number {
  const t = TABLE;
  const a = c ^ w0;
  // The `as number` casts are free: every index is masked into the table's 4096 slots.
  return (
    (t[3840 + (a & 0xff)] as number) ^ (t[3584 + ((a >>> 8) & 0xff)] as number) ^
    (t[3328 + ((a >>> 16) & 0xff)] as number) ^ (t[3072 + (a >>> 24)] as number) ^
    (t[2816 + (w1 & 0xff)] as number) ^ (t[2560 + ((w1 >>> 8) & 0xff)] as number) ^
    (t[2304 + ((w1 >>> 16) & 0xff)] as number) ^ (t[2048 + (w1 >>> 24)] as number) ^
    (t[1792 + (w2 & 0xff)] as number) ^ (t[1536 + ((w2 >>> 8) & 0xff)] as number) ^
    (t[1280 + ((w2 >>> 16) & 0xff)] as number) ^ (t[1024 + (w2 >>> 24)] as number) ^
    (t[768 + (w3 & 0xff)] as number) ^ (t[512 + ((w3 >>> 8) & 0xff)] as number) ^
    (t[256 + ((w3 >>> 16) & 0xff)] as number) ^ (t[w3 >>> 24] as number)
  );
}

function byteStep(c: number, b: number): number {
  return (TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
}

/**
 * Continues a CRC-32C over `bytes[start, end)`. Start with `crc = 0`; pass the previous result to
 * checksum data that arrives in pieces (`update(update(0, a), b) === update(0, a ++ b)`).
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (!LITTLE_ENDIAN || end - start < WORD_LOOP_MIN_BYTES) return crc32cUpdatePortable(crc, bytes, start, end);
  let c = ~crc >>> 0;
  let i = start;
  while (((bytes.byteOffset + i) & 3) !== 0) c = byteStep(c, bytes[i++] as number);
  const blocks = (end - i) >>> 4;
  const w = new Int32Array(bytes.buffer, bytes.byteOffset + i, blocks * 4);
  for (let k = 0; k < w.length; k += 4) c = step16(c, w[k] as number, w[k + 1] as number, w[k + 2] as number, w[k + 3] as number);
  i += blocks * 16;
  while (i < end) c = byteStep(c, bytes[i++] as number);
  return ~c >>> 0;
}

/** Same as {@link crc32cUpdate} with byte reads only (any host byte order, any alignment). */
export function crc32cUpdatePortable(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  let i = start;
  const stop16 = end - ((end - start) & 15);
  const word = (k: number): number =>
    (bytes[k] as number) | ((bytes[k + 1] as number) << 8) | ((bytes[k + 2] as number) << 16) | ((bytes[k + 3] as number) << 24);
  for (; i < stop16; i += 16) c = step16(c, word(i), word(i + 4), word(i + 8), word(i + 12));
  while (i < end) c = byteStep(c, bytes[i++] as number);
  return ~c >>> 0;
}

/** CRC-32C of `bytes[start, end)`. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}
