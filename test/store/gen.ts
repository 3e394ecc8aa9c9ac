/** Seeded random command generator shared by the store's model-based tests. Not a test file. */
import type { Command, Compare, Expectation, KeyRange, RangeOptions, TxnOp, TxnRequest } from '../../src/store/types.ts';

/** The seeded PRNG every test shares (mulberry32, src/transport/random.ts). */
import { seededRandom as rng } from '../helpers/random.ts';
export { rng };

export const KEYS = ['a', 'aa', 'ab', 'b', 'ba', 'bb', 'c', 'ca'];

export class Gen {
  readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  key(): string {
    return this.pick(KEYS);
  }
  value(): Uint8Array {
    const n = this.int(3);
    return Uint8Array.from({ length: n }, () => this.int(2));
  }
  range(): KeyRange {
    const k = this.int(4);
    if (k === 0) return { key: this.key() };
    if (k === 1) return { prefix: this.pick(['', 'a', 'b', 'c', 'aa']) };
    if (k === 2) return { start: this.key(), end: this.key() };
    return { start: this.key() };
  }
  expect(rev: number): Expectation | undefined {
    const k = this.int(8);
    if (k === 0) return 'absent';
    if (k === 1) return 'present';
    if (k === 2) return { value: this.value() };
    if (k === 3) return { modRevision: this.int(rev + 2) };
    if (k === 4) return { version: this.int(3) };
    return undefined;
  }
  rangeOptions(rev: number): RangeOptions | undefined {
    if (this.chance(0.3)) return undefined;
    const o: { -readonly [K in keyof RangeOptions]: RangeOptions[K] } = {};
    if (this.chance(0.4)) o.revision = this.int(rev + 2);
    if (this.chance(0.3)) o.limit = this.int(4);
    if (this.chance(0.4)) o.sort = { by: this.pick(['key', 'createRevision', 'modRevision', 'version', 'value'] as const), order: this.pick(['asc', 'desc'] as const) };
    if (this.chance(0.2)) o.keysOnly = true;
    if (this.chance(0.1)) o.countOnly = true;
    if (this.chance(0.15)) o.minCreateRevision = this.int(rev + 1);
    if (this.chance(0.15)) o.maxCreateRevision = this.int(rev + 1);
    if (this.chance(0.15)) o.minModRevision = this.int(rev + 1);
    if (this.chance(0.15)) o.maxModRevision = this.int(rev + 1);
    return o;
  }
  put(rev: number): Command & { type: 'put' } {
    const key = this.key();
    const request = {
      key,
      value: this.value(),
      ...(this.chance(0.3) ? { lease: this.int(4) } : {}),
      ...(this.chance(0.5) ? { prevKv: true } : {}),
      ...(this.chance(0.08) ? { ignoreValue: true } : {}),
      ...(this.chance(0.08) ? { ignoreLease: true } : {}),
      ...(this.chance(0.3) ? { expect: this.expect(rev) ?? 'present' } : {}),
    };
    return { type: 'put', request };
  }
  del(rev: number): Command & { type: 'delete' } {
    const range = this.range();
    const e = 'key' in range && this.chance(0.3) ? this.expect(rev) : undefined;
    return { type: 'delete', request: { range, ...(this.chance(0.5) ? { prevKv: true } : {}), ...(e !== undefined ? { expect: e } : {}) } };
  }
  compare(rev: number): Compare {
    const target = this.pick(['value', 'version', 'createRevision', 'modRevision', 'lease'] as const);
    return {
      range: this.chance(0.7) ? { key: this.key() } : this.range(),
      target,
      op: this.pick(['==', '!=', '<', '>'] as const),
      value: target === 'value' ? this.value() : this.int(target === 'version' ? 3 : target === 'lease' ? 3 : rev + 2),
    };
  }
  txnOp(rev: number, depth: number): TxnOp {
    const k = this.int(depth < 2 ? 7 : 6);
    if (k <= 1) return { type: 'put', request: this.put(rev).request };
    if (k === 2) return { type: 'delete', request: this.del(rev).request };
    if (k <= 5) {
      const options = this.rangeOptions(rev);
      return options === undefined ? { type: 'range', range: this.range() } : { type: 'range', range: this.range(), options };
    }
    return { type: 'txn', request: this.txn(rev, depth + 1) };
  }
  txn(rev: number, depth = 0): TxnRequest {
    const ops = (): TxnOp[] => Array.from({ length: this.int(4) }, () => this.txnOp(rev, depth));
    return { compare: Array.from({ length: this.int(3) }, () => this.compare(rev)), success: ops(), failure: ops() };
  }
  command(rev: number): Command {
    const k = this.int(100);
    if (k < 40) return this.put(rev);
    if (k < 55) return this.del(rev);
    if (k < 80) return { type: 'txn', request: this.txn(rev) };
    if (k < 86) return { type: 'compact', revision: this.int(rev + 2) };
    if (k < 94) return { type: 'leaseGrant', id: 1 + this.int(3), ttlMs: 1000 };
    return { type: 'leaseRevoke', id: 1 + this.int(4) };
  }
}
