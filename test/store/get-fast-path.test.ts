// Proves the point-read fast path (Store.range({ key }) with no options, or options that cannot
// change a one-key result, served by getNow) returns exactly what the general range path returns:
// on seeded random command sequences (test/store/gen.ts: puts, deletes, txns, compactions, leases)
// every key, present, absent or deleted, is read both ways after every command and the results
// are compared whole (kvs, count, more, revision). The general path is forced by reading at the
// current revision explicitly and by the equivalent one-key interval [key, key + '\0').
// Store.get(key, revision?) — the point read without a range result — is checked the same way:
// equal to range({ key }, { revision }).kvs[0] for every key at the current and at every past
// revision (the same CompactedError / FutureRevisionError outside the readable window), and it
// validates its arguments like a range.
// Replay one seed with: STORE_SEED=<seed> node --import tsx test/store/get-fast-path.test.ts
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CompactedError, FutureRevisionError, InvalidArgumentError, RequestTooLargeError } from '../../src/errors.ts';
import { Store } from '../../src/store/index.ts';
import { isCurrentPointRead } from '../../src/store/range.ts';
import type { RangeOptions } from '../../src/store/types.ts';
import { Gen, KEYS } from './gen.ts';
import { plain, tryApply } from './support.ts';

const SEQUENCES = Number(process.env.STORE_SEQUENCES ?? 300);
const ONLY = process.env.STORE_SEED === undefined ? undefined : Number(process.env.STORE_SEED);

/** Options a point read may carry that must still take the fast path. */
const FAST_OPTIONS: readonly (RangeOptions | undefined)[] = [
  undefined,
  {},
  { limit: 1 },
  { limit: 0 },
  { revision: 0 },
  { sort: { by: 'value', order: 'desc' } },
  { keysOnly: false, countOnly: false, minCreateRevision: 0, maxModRevision: 0 },
];

test('options that cannot change a one-key result are recognised, the others are not', () => {
  for (const o of FAST_OPTIONS) assert.ok(isCurrentPointRead(o), JSON.stringify(o));
  const slow: RangeOptions[] = [{ revision: 3 }, { keysOnly: true }, { countOnly: true }, { minCreateRevision: 1 }, { maxCreateRevision: 1 }, { minModRevision: 1 }, { maxModRevision: 1 }];
  for (const o of slow) assert.not.ok(isCurrentPointRead(o), JSON.stringify(o));
});

const READ_KEYS = [...KEYS, 'zz-never-written'];

/**
 * Runs `sequences` seeded command sequences of `steps` commands (with an occasional compaction)
 * and calls `check(store, key, where)` for every key after every command.
 */
function afterEveryCommand(sequences: number, steps: number, compactChance: number, check: (s: Store, key: string, where: string) => void): void {
  const seeds = ONLY === undefined ? Array.from({ length: sequences }, (_, i) => i + 1) : [ONLY];
  for (const seed of seeds) {
    const g = new Gen(seed);
    const s = new Store();
    for (let step = 0; step < steps; step++) {
      tryApply(s, g.command(s.revision));
      if (g.chance(compactChance) && s.revision > 0) tryApply(s, { type: 'compact', revision: Math.max(1, s.revision - g.int(5)) });
      for (const key of READ_KEYS) check(s, key, `seed ${seed} step ${step} key ${key}; reproduce: STORE_SEED=${seed} node --import tsx test/store/get-fast-path.test.ts`);
    }
  }
}

test('a point read equals the general range path after every command', () => {
  afterEveryCommand(SEQUENCES, 40, 0.05, (s, key, where) => {
    const general = plain(s.range({ start: key, end: `${key}\0` }));
    if (s.revision > 0) assert.equal(plain(s.range({ key }, { revision: s.revision })), general, where);
    for (const o of FAST_OPTIONS) assert.equal(plain(s.range({ key }, o)), general, `${where} options ${JSON.stringify(o)}`);
  });
});

test('a result is not changed by later writes, and its array is the caller\'s', () => {
  const s = new Store();
  s.apply({ type: 'put', request: { key: 'k', value: Uint8Array.of(1) } });
  const first = s.range({ key: 'k' });
  first.kvs.push(first.kvs[0] as never);
  s.apply({ type: 'put', request: { key: 'k', value: Uint8Array.of(2) } });
  assert.equal(first.kvs[0]?.value, Uint8Array.of(1), 'a later write does not change an earlier result');
  const second = s.range({ key: 'k' });
  assert.is(second.kvs.length, 1);
  assert.equal(second.kvs[0]?.value, Uint8Array.of(2));
  assert.is(second.kvs[0]?.version, 2);
  assert.equal(s.range({ key: 'missing' }), { kvs: [], count: 0, more: false, revision: 2 });
});

/** What a call returns or throws, comparable with assert.equal (errors by class and message). */
function outcome(f: () => unknown): unknown {
  try {
    return { ok: plain(f()) };
  } catch (err) {
    return { threw: (err as Error).constructor.name, message: (err as Error).message };
  }
}

test('get(key, revision?) equals the first kv of range({ key }, { revision }) at every revision', () => {
  afterEveryCommand(Math.ceil(SEQUENCES / 3), 30, 0.08, (s, key, where) => {
    assert.equal(plain(s.get(key)), plain(s.range({ key }).kvs[0]), where);
    for (let rev = 0; rev <= s.revision + 1; rev++) {
      const viaGet = outcome(() => s.get(key, rev));
      const viaRange = outcome(() => s.range({ key }, { revision: rev }).kvs[0]);
      assert.equal(viaGet, viaRange, `${where} revision ${rev}`);
    }
  });
});

test('get: past-revision errors and argument checks', () => {
  const s = new Store({ maxKeyBytes: 8 });
  for (let i = 1; i <= 4; i++) s.apply({ type: 'put', request: { key: 'k', value: Uint8Array.of(i) } });
  s.apply({ type: 'compact', revision: 3 });
  assert.is(s.get('k', 3)?.value[0], 3);
  assert.is(s.get('k', 0)?.value[0], 4);
  assert.throws(() => s.get('k', 2), (e: unknown) => e instanceof CompactedError);
  assert.throws(() => s.get('k', 5), (e: unknown) => e instanceof FutureRevisionError);
  assert.throws(() => s.get(''), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => s.get(7 as unknown as string), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => s.get('k', -1), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => s.get('k', 1.5), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => s.get('a-key-too-long'), (e: unknown) => e instanceof RequestTooLargeError);
  assert.is(s.get('absent'), undefined);
});

test.run();
