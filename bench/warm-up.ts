// Untimed warm-up for latency measurements against member processes. A member answers its first
// few thousand sequential requests 2–4× slower than later ones while V8 compiles the per-turn path
// (driver loop, Ready handling, storage flush loop, WebSocket framing run once per request when
// requests come one at a time); a short fixed warm-up measured the compiler, not the cluster
// (docs/performance.md, "How to read them on a small shared VM"). So warm up until the latency stops falling, and print the rounds.

/** Rounds of warm-up: at least MIN_ROUNDS, at most MAX_ROUNDS ... */
const MIN_ROUNDS = 4;
const MAX_ROUNDS = 12;
/** ... until SETTLED_ROUNDS rounds in a row set no new low: a p50 above SETTLED_RATIO × the best before. */
const SETTLED_RATIO = 0.95;
const SETTLED_ROUNDS = 2;

/** What the bench prints about the warm-up it did. */
export const WARM_UP_RULE = 'until 2 rounds in a row set no new low by > 5 %';

/**
 * Runs `round` (one untimed round; resolves with its p50) until the p50 has settled; returns
 * every round's p50, in order.
 */
export async function warmUntilSettled(round: (i: number) => Promise<number>): Promise<number[]> {
  const p50s: number[] = [];
  let withoutNewLow = 0;
  for (let i = 0; i < MAX_ROUNDS; i++) {
    const p50 = await round(i);
    if (!Number.isFinite(p50)) throw new Error(`warm-up round ${i} gave no p50 (${p50})`);
    withoutNewLow = p50 > Math.min(...p50s) * SETTLED_RATIO ? withoutNewLow + 1 : 0;
    p50s.push(p50);
    if (p50s.length >= MIN_ROUNDS && withoutNewLow >= SETTLED_ROUNDS) break;
  }
  return p50s;
}

/** `1.23, 1.05, 0.98` (ms, two decimals) or '—'. */
export function formatRounds(p50s: readonly number[] | undefined): string {
  return p50s === undefined ? '—' : p50s.map((x) => x.toFixed(2)).join(', ');
}
