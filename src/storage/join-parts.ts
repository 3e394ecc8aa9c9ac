/**
 * Consecutive snapshot parts joined into one array, copied in slices with the event loop turning
 * in between (memory storage keeps whole snapshots; at 1M keys one copy is ≈ 175 MB, ≈ 60 ms in
 * one go).
 */

/** Bytes copied between two turns of the event loop. */
const JOIN_SLICE_BYTES = 4 * 1024 * 1024;

export async function joinParts(parts: readonly Uint8Array[]): Promise<Uint8Array> {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  let sinceYield = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
    sinceYield += p.length;
    if (sinceYield >= JOIN_SLICE_BYTES) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return out;
}
