/**
 * A small seeded PRNG (mulberry32) for the simulator. Every random choice the simulator makes —
 * fault injection, delays, workload, the cores' election jitter — is drawn from one of these, so a
 * seed replays the exact same run. The generator is the product's own (src/transport/random.ts).
 */
import { seededRandom } from '../helpers/random.ts';

export class Prng {
  readonly #draw: () => number;

  constructor(seed: number) {
    // Mix the seed once so that nearby seeds (1, 2, 3…) start far apart.
    this.#draw = seededRandom((seed ^ 0x9e3779b9) >>> 0);
    this.next();
    this.next();
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.#draw();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('sim: pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** A new generator whose stream is derived from this one (one per core, so cores stay independent). */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 4294967296));
  }
}
