/**
 * A deterministic 32-bit hash of the store's canonical encoding (FNV-1a). Members that applied
 * the same log have byte-identical snapshots, hence equal hashes; comparing them detects divergence.
 */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
