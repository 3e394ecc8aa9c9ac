/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven with slicing-by-8.
 *
 * Why CRC-32C: it is the checksum of etcd's WAL, ext4 metadata, iSCSI and SCTP; for the record
 * sizes a WAL holds it detects every burst error up to 32 bits and has a larger minimum Hamming
 * distance than the IEEE polynomial. Why hand-written: Node 20 has no CRC-32C built in (zlib's
 * crc32 arrived later and is the IEEE polynomial), the algorithm is ~40 lines, and a dependency
 * would sit on the durability path. Why slicing-by-8: it consumes 8 bytes per step with eight
 * independent table lookups instead of a dependent lookup per byte, which is about 3× faster in
 * V8 (measured in bench/storage.bench.ts) for 8 KiB of tables.
 */

const POLYNOMIAL = 0x82f63b78;

/** `TABLES[k][b]`: CRC of byte `b` followed by `k` zero bytes. */
const TABLES: readonly Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    t0[n] = c >>> 0;
  }
  tables.push(t0);
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      const p = prev[n] as number;
      t[n] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
    tables.push(t);
  }
  return tables;
}

const T0 = TABLES[0] as Uint32Array;
const T1 = TABLES[1] as Uint32Array;
const T2 = TABLES[2] as Uint32Array;
const T3 = TABLES[3] as Uint32Array;
const T4 = TABLES[4] as Uint32Array;
const T5 = TABLES[5] as Uint32Array;
const T6 = TABLES[6] as Uint32Array;
const T7 = TABLES[7] as Uint32Array;

/**
 * Continues a CRC-32C over `bytes[start, end)`. Start with `crc = 0`; pass the previous result to
 * checksum data that arrives in pieces (`update(update(0, a), b) === update(0, a ++ b)`).
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  let i = start;
  const stop8 = end - ((end - start) & 7);
  // The `as number` casts are free: indexes are masked to 0..255 and the tables have 256 slots.
  while (i < stop8) {
    const lo = (c ^ ((bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24))) >>> 0;
    c =
      (T7[lo & 0xff] as number) ^
      (T6[(lo >>> 8) & 0xff] as number) ^
      (T5[(lo >>> 16) & 0xff] as number) ^
      (T4[lo >>> 24] as number) ^
      (T3[bytes[i + 4] as number] as number) ^
      (T2[bytes[i + 5] as number] as number) ^
      (T1[bytes[i + 6] as number] as number) ^
      (T0[bytes[i + 7] as number] as number);
    i += 8;
  }
  while (i < end) {
    c = (T0[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/** CRC-32C of `bytes[start, end)`. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}
