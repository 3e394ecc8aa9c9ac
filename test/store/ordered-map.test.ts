// Proves the sorted-btree wrapper (src/store/ordered-map.ts) behaves as a naive sorted array:
// seeded random set/delete/get/forRange, and clone() isolation in both directions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OrderedMap } from '../../src/store/ordered-map.ts';
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

test.run();
