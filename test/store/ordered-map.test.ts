// Proves the sorted-btree wrapper (src/store/ordered-map.ts) behaves as a naive sorted array:
// seeded random set/delete/get/forRange, and clone() isolation in both directions; on trees three
// and four levels deep, the leaf-run walk (forRuns) yields exactly the entries of random ranges,
// in order, as non-empty runs, also on a clone that diverged from the original. A tree built
// bottom-up from sorted entries (SortedLoader, restore) is a valid sorted-btree equal to one built
// by inserts, and stays valid and equal under later writes, deletes and clones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OrderedMap, SortedLoader } from '../../src/store/ordered-map.ts';
import { rng } from './gen.ts';

class Naive {
  entries: [string, number][] = [];
  set(k: string, v: number): void {
    const i = this.entries.findIndex(([x]) => x === k);
    if (i >= 0) this.entries[i] = [k, v];
    else {
      this.entries.push([k, v]);
      this.entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    }
  }
  delete(k: string): boolean {
    const n = this.entries.length;
    this.entries = this.entries.filter(([x]) => x !== k);
    return n !== this.entries.length;
  }
  range(start: string, end: string | undefined): [string, number][] {
    return this.entries.filter(([k]) => k >= start && (end === undefined || k < end));
  }
}

function collect(m: OrderedMap<number>, start: string, end: string | undefined, stopAfter = Infinity): [string, number][] {
  const out: [string, number][] = [];
  m.forRange(start, end, (k, v) => {
    out.push([k, v]);
    return out.length >= stopAfter;
  });
  return out;
}

test('random operations match a naive sorted array (with clones)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const key = (): string => Array.from({ length: 1 + Math.floor(r() * 3) }, () => 'abc\u00e9\uffff'[Math.floor(r() * 5)]).join('');
    const m = new OrderedMap<number>();
    const n = new Naive();
    let frozen: { map: OrderedMap<number>; entries: [string, number][] } | undefined;
    for (let step = 0; step < 2000; step++) {
      const k = key();
      const op = r();
      if (op < 0.5) {
        m.set(k, step);
        n.set(k, step);
      } else if (op < 0.75) assert.is(m.delete(k), n.delete(k), `seed ${seed}`);
      else if (op < 0.85) assert.is(m.get(k), n.entries.find(([x]) => x === k)?.[1]);
      else if (op < 0.95) {
        const end = r() < 0.3 ? undefined : key();
        assert.equal(collect(m, k, end), n.range(k, end), `seed ${seed} range`);
        assert.equal(collect(m, k, end, 2), n.range(k, end).slice(0, 2));
      } else {
        frozen = { map: m.clone(), entries: [...n.entries] };
      }
      assert.is(m.size, n.entries.length);
    }
    assert.equal([...m.entries()], n.entries);
    if (frozen) assert.equal([...frozen.map.entries()], frozen.entries, `seed ${seed}: clone unaffected by later writes`);
  }
});

function runs(m: OrderedMap<number>, start: string, end: string | undefined): [string, number][] {
  const out: [string, number][] = [];
  m.forRuns(start, end, (keys, values, from, to) => {
    assert.ok(from < to, 'runs are not empty');
    for (let i = from; i < to; i++) out.push([keys[i] as string, values[i] as number]);
  });
  return out;
}

test('leaf runs of deep trees match a sorted array on random ranges', () => {
  for (const [seed, size] of [
    [1, 5_000],
    [2, 30_000],
    [3, 100_000],
  ] as const) {
    const r = rng(seed);
    const key = (): string => String(Math.floor(r() * size * 2)).padStart(7, '0');
    const m = new OrderedMap<number>();
    const model = new Map<string, number>();
    for (let i = 0; i < size; i++) {
      const k = key();
      m.set(k, i);
      model.set(k, i);
    }
    for (let i = 0; i < size / 4; i++) {
      const k = key();
      assert.is(m.delete(k), model.delete(k));
    }
    const before = m.clone();
    const sorted = [...model].sort(([a], [b]) => (a < b ? -1 : 1));
    for (let i = 0; i < 200; i++) m.set(key(), -i); // the clone must not see these
    const lowerBound = (k: string): number => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((sorted[mid] as [string, number])[0] < k) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const expected = (start: string, end: string | undefined): [string, number][] =>
      sorted.slice(lowerBound(start), end === undefined ? sorted.length : Math.max(lowerBound(start), lowerBound(end)));
    const same = (a: [string, number][], b: [string, number][]): boolean => a.length === b.length && a.every(([k, v], i) => k === (b[i] as [string, number])[0] && v === (b[i] as [string, number])[1]);
    for (let q = 0; q < 150; q++) {
      const start = q === 0 ? '' : key();
      const end = r() < 0.2 ? undefined : String(Number(start) + Math.floor(r() * (r() < 0.5 ? 50 : 5_000))).padStart(7, '0');
      assert.ok(same(runs(before, start, end), expected(start, end)), `seed ${seed} [${start}, ${String(end)})`);
      assert.equal(collect(before, start, end, 3), expected(start, end).slice(0, 3));
    }
    assert.equal(runs(before, '9', undefined), []);
    assert.equal(runs(before, '5', '5'), []);
  }
});

test('writes to a clone do not show in the original', () => {
  const m = new OrderedMap<number>();
  for (let i = 0; i < 1000; i++) m.set(`k${i}`, i);
  const c = m.clone();
  c.set('k1', -1);
  c.delete('k2');
  assert.is(m.get('k1'), 1);
  assert.is(m.get('k2'), 2);
  assert.is(c.size, 999);
});

test('a tree loaded from sorted entries is valid and behaves as one built by inserts', () => {
  assert.ok(OrderedMap.bulkLoads, "sorted-btree's node classes are found (else loads fall back to inserts)");
  const r = rng(99);
  for (const n of [0, 1, 55, 56, 57, 3_136, 3_137, 20_000, 200_000]) {
    const keys = Array.from({ length: n }, (_, i) => `k${String(i * 3).padStart(8, '0')}`);
    const loader = new SortedLoader<number>();
    keys.forEach((k, i) => loader.add(k, i));
    const loaded = loader.finish();
    const inserted = new OrderedMap<number>();
    keys.forEach((k, i) => inserted.set(k, i));
    assert.is(loaded.size, n);
    loaded.checkValid();
    assert.equal([...loaded.entries()], [...inserted.entries()], `${n} entries`);
    // Later writes on the loaded tree and on a clone of it keep both valid and independent.
    const clone = loaded.clone();
    for (let i = 0; i < Math.min(n, 2_000) + 50; i++) {
      const k = `k${String(Math.floor(r() * n * 3 + 1)).padStart(8, '0')}`;
      if (r() < 0.3) {
        assert.is(loaded.delete(k), inserted.delete(k), `delete ${k}`);
      } else {
        loaded.set(k, -i);
        inserted.set(k, -i);
      }
    }
    assert.equal([...loaded.entries()], [...inserted.entries()], `${n} entries after writes`);
    loaded.checkValid();
    clone.checkValid();
    assert.is(clone.size, n, 'the clone kept the loaded entries');
    const first = keys[0];
    if (first !== undefined) assert.is(clone.get(first), 0);
    const runs: string[] = [];
    loaded.forRange('k00000100', 'k00000400', (k) => void runs.push(k));
    assert.equal(runs, [...inserted.entries()].map(([k]) => k).filter((k) => k >= 'k00000100' && k < 'k00000400'));
  }
  const loader = new SortedLoader<number>();
  loader.add('b', 1);
  assert.throws(() => loader.add('a', 2), /out of order/);
});

test.run();
