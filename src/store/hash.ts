/**
 * FNV-1a, 32 bits: the store's deterministic hash. `fnv1a32` hashes the canonical encoding (members
 * that applied the same log have byte-identical snapshots, hence equal hashes); {@link Fnv1a} is
 * the incremental form that HashKV feeds record by record (hash-kv.ts).
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class Fnv1a {
  h = FNV_OFFSET;

  byte(b: number): void {
    this.h = Math.imul(this.h ^ (b & 0xff), FNV_PRIME);
  }

  /** A non-negative safe integer as 8 bytes (two 32-bit halves), so 2^53 leases hash exactly. */
  uint(n: number): void {
    const lo = n >>> 0;
    const hi = Math.floor(n / 2 ** 32) >>> 0;
    for (let s = 0; s < 32; s += 8) this.byte(lo >>> s);
    for (let s = 0; s < 32; s += 8) this.byte(hi >>> s);
  }

  /** A string's UTF-16 code units, length first (so "ab"+"c" and "a"+"bc" differ). */
  text(s: string): void {
    this.uint(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      this.byte(c);
      this.byte(c >>> 8);
    }
  }

  /** Bytes, length first. */
  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.raw(b);
  }

  /** Bytes as they are (no length). */
  raw(b: Uint8Array): void {
    for (let i = 0; i < b.length; i++) this.byte(b[i] as number);
  }

  digest(): number {
    return this.h >>> 0;
  }
}

export function fnv1a32(bytes: Uint8Array): number {
  const h = new Fnv1a();
  h.raw(bytes);
  return h.digest();
}
