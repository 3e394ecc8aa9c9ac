// Proves the nemesis checkers tell linearizable histories from non-linearizable ones: hand-written
// histories of registers, CAS counters and multi-key txns that must be rejected (stale read, lost
// update, a value never written, a txn seen half-applied) or accepted (overlapping ops, ops of
// unknown outcome that may take effect late or never), unknown writes nobody read dropped before
// the search, a budget that answers "unknown" and never "ok", a long random linearizable history
// accepted, and watch streams with a gap, a duplicate, disorder and a phantom event rejected, a
// resumed stream accepted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { HistoryOp, OpInput, OpOutput } from './history.ts';
import { checkHistory, checkOps } from './linearizability.ts';
import type { CheckResult } from './linearizability.ts';
import { counterModel, multiKeyModel, registerModel } from './models.ts';
import { checkWatchStream } from './watch-check.ts';
import type { WatchedEvent } from './watch-check.ts';
import { seededRandom } from '../helpers/random.ts';

let nextId = 0;
/** An op that returned `output` over [invokeMs, completeMs]. */
function ok(process: string, input: OpInput, invokeMs: number, completeMs: number, output?: OpOutput): HistoryOp {
  return { id: nextId++, process, input, invokeMs, completeMs, status: 'ok', output };
}
/** An op whose outcome is unknown, invoked at `invokeMs`. */
function maybe(process: string, input: OpInput, invokeMs: number): HistoryOp {
  return { id: nextId++, process, input, invokeMs, status: 'unknown' };
}
const put = (value: string) => ({ f: 'put', key: 'r', value }) as const;
const get = { f: 'get', key: 'r' } as const;
const read = { f: 'read', key: 'c' } as const;
const cas = (from: number, to: number) => ({ f: 'cas', key: 'c', from, to }) as const;

function kind(r: CheckResult): string {
  return r.kind;
}

test('register: a read after a completed write that sees the older value is a stale read', () => {
  const h = [ok('a', put('1'), 0, 1), ok('a', put('2'), 2, 3), ok('b', get, 4, 5, '1')];
  const r = checkOps(registerModel, h);
  assert.is(kind(r), 'violation');
  if (r.kind === 'violation') assert.equal(r.blockedOp.input, get);
});

test('register: a read of a value never written is rejected', () => {
  assert.is(kind(checkOps(registerModel, [ok('a', put('1'), 0, 1), ok('b', get, 2, 3, '7')])), 'violation');
  assert.is(kind(checkOps(registerModel, [ok('b', get, 0, 1, '1')])), 'violation');
});

test('register: overlapping writes and reads may be ordered either way', () => {
  // put 1 and put 2 overlap; readers see 2 then 1 while both still run — linearizable (2 before 1).
  const h = [ok('a', put('1'), 0, 10), ok('b', put('2'), 1, 10), ok('c', get, 2, 3, '2'), ok('d', get, 4, 5, '1'), ok('c', get, 11, 12, '1')];
  assert.is(kind(checkOps(registerModel, h)), 'ok');
  // …but once a reader saw 1 after 2, a later reader cannot see 2 again.
  const bad = [...h.slice(0, 4), ok('c', get, 11, 12, '2')];
  assert.is(kind(checkOps(registerModel, bad)), 'violation');
});

test('register: a write of unknown outcome may take effect long after its call, or never', () => {
  const late = [ok('a', put('1'), 0, 1), maybe('b', put('2'), 2), ok('c', get, 3, 4, '1'), ok('c', get, 100, 101, '2'), ok('c', get, 102, 103, '2')];
  assert.is(kind(checkOps(registerModel, late)), 'ok');
  const never = [ok('a', put('1'), 0, 1), maybe('b', put('2'), 2), ok('c', get, 100, 101, '1')];
  assert.is(kind(checkOps(registerModel, never)), 'ok');
  // It takes effect once: 2, then 1 again (written before it), then 2 again is impossible.
  const twice = [ok('a', put('1'), 0, 1), maybe('b', put('2'), 2), ok('c', get, 3, 4, '2'), ok('c', get, 5, 6, '1'), ok('c', get, 7, 8, '2')];
  assert.is(kind(checkOps(registerModel, twice)), 'violation');
  // And never before its call.
  const early = [ok('c', get, 0, 1, '2'), maybe('b', put('2'), 2)];
  assert.is(kind(checkOps(registerModel, early)), 'violation');
});

test('cas counter: two successful increments from the same value are a lost update', () => {
  const h = [ok('a', cas(-1, 0), 0, 1, true), ok('a', cas(0, 1), 2, 5, true), ok('b', cas(0, 1), 3, 6, true)];
  assert.is(kind(checkOps(counterModel, h)), 'violation');
  const fine = [ok('a', cas(-1, 0), 0, 1, true), ok('a', cas(0, 1), 2, 5, true), ok('b', cas(0, 1), 3, 6, false), ok('b', read, 7, 8, 1)];
  assert.is(kind(checkOps(counterModel, fine)), 'ok');
});

test('cas counter: an unknown CAS explains a later value; a failed CAS that should have applied does not', () => {
  const h = [ok('a', cas(-1, 0), 0, 1, true), maybe('a', cas(0, 1), 2), ok('b', read, 10, 11, 1), ok('b', cas(1, 2), 12, 13, true)];
  assert.is(kind(checkOps(counterModel, h)), 'ok');
  const wrong = [ok('a', cas(-1, 0), 0, 1, true), ok('b', cas(0, 1), 2, 3, false), ok('b', read, 4, 5, 0)];
  assert.is(kind(checkOps(counterModel, wrong)), 'violation');
});

test('multi-key txn: a reader that sees one key of an atomic two-key write but not the other saw it half-applied', () => {
  const w = (v: string) => ({ f: 'txn', reads: [], writes: { x: v, y: v } }) as const;
  const r = { f: 'txn', reads: ['x', 'y'], writes: {} } as const;
  const half = [ok('a', w('1'), 0, 1), ok('a', w('2'), 2, 10), ok('b', r, 3, 4, { x: '2', y: '1' })];
  assert.is(kind(checkOps(multiKeyModel, half)), 'violation');
  const whole = [ok('a', w('1'), 0, 1), ok('a', w('2'), 2, 10), ok('b', r, 3, 4, { x: '1', y: '1' }), ok('b', r, 5, 6, { x: '2', y: '2' })];
  assert.is(kind(checkOps(multiKeyModel, whole)), 'ok');
  const absent = [ok('b', r, 0, 1, { x: null, y: null }), maybe('a', w('1'), 2), ok('b', r, 3, 4, { x: '1', y: '1' })];
  assert.is(kind(checkOps(multiKeyModel, absent)), 'ok');
});

test('checkHistory splits by key: each register is checked on its own, txns together', () => {
  const h = [
    ok('a', { f: 'put', key: 'r1', value: '1' }, 0, 1),
    ok('a', { f: 'put', key: 'r2', value: '1' }, 0, 1),
    ok('b', { f: 'get', key: 'r1' }, 2, 3, '1'),
    ok('b', { f: 'get', key: 'r2' }, 2, 3, null),
    ok('c', { f: 'txn', reads: ['x'], writes: {} }, 0, 1, { x: null }),
  ];
  const parts = checkHistory(h);
  assert.equal(
    parts.map((p) => [p.name, p.result.kind]),
    [
      ['multi-key txn', 'ok'],
      ['register r1', 'ok'],
      ['register r2', 'violation'],
    ],
  );
});

test('checkHistory drops unknown writes no read returned (unique values), so timed-out writes cost the search nothing', () => {
  const h: HistoryOp[] = [ok('a', { f: 'put', key: 'r', value: 'x' }, 0, 1)];
  for (let i = 0; i < 40; i++) h.push(maybe(`w${i}`, { f: 'put', key: 'r', value: `lost${i}` }, 2));
  for (let i = 0; i < 40; i++) h.push(ok('r', { f: 'get', key: 'r' }, 10 + 2 * i, 11 + 2 * i, 'x'));
  const [part] = checkHistory(h, { maxSteps: 1_000 });
  assert.is(part?.result.kind, 'ok');
  assert.is(part?.result.ops, 41);
  // An unknown write that a read did return stays, and must be placed.
  const seen = [...h, ok('r', { f: 'get', key: 'r' }, 200, 201, 'lost7'), ok('r', { f: 'get', key: 'r' }, 202, 203, 'x')];
  assert.is(checkHistory(seen)[0]?.result.kind, 'violation');
});

test('a search over its budget answers unknown, never ok', () => {
  // Many concurrent writes of unknown outcome and reads that force deep backtracking.
  const h: HistoryOp[] = [];
  for (let i = 0; i < 14; i++) h.push(maybe(`w${i}`, put(String(i)), 0));
  for (let i = 0; i < 14; i++) h.push(ok('r', get, 10 + 2 * i, 11 + 2 * i, String(13 - i)));
  h.push(ok('r', get, 100, 101, 'never'));
  const r = checkOps(registerModel, h, { maxSteps: 2_000 });
  assert.is(r.kind, 'unknown');
});

test('a long random history of a real register (sequential truth, random overlaps) is accepted', () => {
  const random = seededRandom(7);
  const h: HistoryOp[] = [];
  let value: string | null = null;
  let t = 0;
  // Five clients; each op takes effect at one instant inside its interval.
  for (let i = 0; i < 3_000; i++) {
    t += 1;
    const start = t - Math.floor(random() * 5);
    const end = t + Math.floor(random() * 5);
    if (random() < 0.4) {
      value = `v${i}`;
      h.push(random() < 0.05 ? maybe(`p${i % 5}`, put(value), start) : ok(`p${i % 5}`, put(value), start, end));
    } else h.push(ok(`p${i % 5}`, get, start, end, value));
  }
  const r = checkOps(registerModel, h);
  assert.is(r.kind, 'ok');
});

const hist: WatchedEvent[] = [
  { revision: 2, key: 'a', value: '1' },
  { revision: 3, key: 'a', value: '2' },
  { revision: 3, key: 'b', value: '2' },
  { revision: 4, key: 'b', value: null },
  { revision: 5, key: 'z', value: '9' },
];
const stream = (events: WatchedEvent[], startRevision = 1) => ({ process: 'p', prefix: '', startRevision, events, resumes: 0, truncated: false });

test('watch streams: a gap, a duplicate, disorder, a phantom and a wrong value are rejected; a killed stream may end inside a revision', () => {
  assert.is(checkWatchStream(stream(hist.slice(0, 4)), hist), undefined);
  assert.is(checkWatchStream({ ...stream([hist[1]!, hist[2]!, hist[3]!], 3), resumes: 2 }, hist), undefined);
  assert.ok(checkWatchStream(stream([hist[0]!, hist[2]!]), hist)?.includes('gap'));
  assert.ok(checkWatchStream(stream([hist[0]!, hist[1]!, hist[1]!]), hist)?.includes('twice'));
  assert.ok(checkWatchStream(stream([hist[1]!, hist[0]!]), hist)?.includes('out of order'));
  assert.ok(checkWatchStream(stream([hist[0]!, { revision: 3, key: 'q', value: '2' }]), hist) !== undefined);
  assert.ok(checkWatchStream(stream([{ revision: 2, key: 'a', value: '7' }]), hist) !== undefined);
  // A stream cut by a kill may end inside a txn's revision; one that ended cleanly may not, and
  // neither may miss an event before its last revision.
  assert.ok(checkWatchStream(stream([hist[0]!, hist[1]!]), hist)?.includes('gap'));
  assert.is(checkWatchStream({ ...stream([hist[0]!, hist[1]!]), truncated: true }, hist), undefined);
  assert.ok(checkWatchStream({ ...stream([hist[0]!, hist[2]!]), truncated: true }, hist)?.includes('gap'));
  // A prefix watch sees only its keys.
  assert.is(checkWatchStream({ ...stream([hist[0]!, hist[1]!]), prefix: 'a' }, hist), undefined);
});

test.run();
