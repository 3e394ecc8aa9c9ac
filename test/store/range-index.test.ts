// Proves the watch hub's range index (src/store/range-index.ts) answers "which ranges contain
// this key" exactly like a linear scan, under seeded random adds, deletes, re-adds and queries
// (crossing its rebuild thresholds), including open-ended ranges.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RangeIndex } from '../../src/store/range-index.ts';
import { rng } from './gen.ts';

interface Item {
  readonly id: number;
  readonly start: string;
  readonly end: string | undefined;
}

test('random operations match a linear scan', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed);
    const word = (): string => Array.from({ length: 1 + Math.floor(r() * 3) }, () => 'abcd'[Math.floor(r() * 4)]).join('');
    const index = new RangeIndex<Item>();
    const live = new Set<Item>();
    const gone: Item[] = [];
    for (let step = 0; step < 2000; step++) {
      const op = r();
      if (op < 0.45) {
        const a = word();
        const b = word();
        const item: Item = { id: step, start: a < b ? a : b, end: r() < 0.1 ? undefined : a < b ? b : a };
        index.add(item);
        live.add(item);
      } else if (op < 0.65 && live.size > 0) {
        const item = [...live][Math.floor(r() * live.size)] as Item;
        index.delete(item);
        live.delete(item);
        gone.push(item);
      } else if (op < 0.7 && gone.length > 0) {
        const item = gone.pop() as Item;
        index.add(item);
        live.add(item);
      } else {
        const key = word();
        const got: Item[] = [];
        index.containing(key, got);
        const want = [...live].filter((it) => it.start <= key && (it.end === undefined || key < it.end));
        assert.equal(got.map((x) => x.id).sort((x, y) => x - y), want.map((x) => x.id).sort((x, y) => x - y), `seed ${seed} step ${step}`);
      }
      assert.is(index.size, live.size);
    }
    const all: Item[] = [];
    index.all(all);
    assert.is(all.length, live.size);
  }
});

test.run();
