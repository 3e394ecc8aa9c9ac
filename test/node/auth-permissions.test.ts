// Proves the permission checker (src/node/auth/permission-set.ts) decides as etcd's range
// permission cache: single keys, prefixes, `\0` range ends ("from key on"), ranges covered by
// several adjacent or overlapping permissions, gaps, READ vs WRITE vs READWRITE, the root role —
// by hand-picked cases and by comparing seeded random permission sets and requests with a naive
// model that enumerates every key of a tiny alphabet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PermissionSet } from '../../src/node/auth/permission-set.ts';
import type { Access, Permission, PermissionType } from '../../src/node/auth/types.ts';
import { seededRandom } from '../helpers/random.ts';

const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const NONE = new Uint8Array(0);
const OPEN = Uint8Array.of(0);
const perm = (type: PermissionType, key: string, rangeEnd = ''): Permission => ({ type, key: b(key), rangeEnd: b(rangeEnd) });

test('a single-key permission allows that key only', () => {
  const set = new PermissionSet([perm('readwrite', 'foo')]);
  assert.ok(set.allows('read', b('foo')));
  assert.ok(set.allows('write', b('foo')));
  assert.not.ok(set.allows('read', b('foo1')));
  assert.not.ok(set.allows('read', b('fo')));
  // The range [foo, foo\0) is exactly the key foo.
  assert.ok(set.allows('read', b('foo'), b('foo\0')));
  assert.not.ok(set.allows('read', b('foo'), b('fop')), 'a prefix range over a single-key permission');
});

test('a prefix permission allows keys and sub-ranges inside it, nothing outside', () => {
  const set = new PermissionSet([perm('read', 'foo', 'fop')]);
  assert.ok(set.allows('read', b('foo')));
  assert.ok(set.allows('read', b('foo/bar')));
  assert.ok(set.allows('read', b('foo'), b('fop')));
  assert.ok(set.allows('read', b('foo/a'), b('foo/b')));
  assert.not.ok(set.allows('read', b('foo'), b('fopa')));
  assert.not.ok(set.allows('read', b('fo'), b('fop')));
  assert.not.ok(set.allows('read', b('fop')));
  assert.not.ok(set.allows('write', b('foo')), 'READ does not allow writes');
  assert.not.ok(set.allows('read', b('foo'), OPEN), 'from foo on reaches past the prefix');
});

test('a \\0 range end means every key from key on, for permissions and requests', () => {
  const set = new PermissionSet([perm('write', 'm', '\0')]);
  assert.ok(set.allows('write', b('m')));
  assert.ok(set.allows('write', b('zzzz')));
  assert.ok(set.allows('write', b('x'), OPEN));
  assert.not.ok(set.allows('write', b('a')));
  assert.not.ok(set.allows('write', b('a'), OPEN));
  assert.not.ok(set.allows('read', b('m')));
  const all = new PermissionSet([perm('readwrite', '', '\0')]);
  // etcdctl's `get "" --prefix` asks for key \0, range end \0.
  assert.ok(all.allows('read', OPEN, OPEN));
  assert.ok(all.allows('read', b(''), OPEN));
  assert.ok(all.allows('write', b('anything')));
});

test('adjacent and overlapping permissions cover a range together; a gap does not', () => {
  const set = new PermissionSet([perm('read', 'a', 'c'), perm('readwrite', 'c', 'e'), perm('read', 'd', 'g'), perm('read', 'h', 'k')]);
  assert.ok(set.allows('read', b('a'), b('g')));
  assert.ok(set.allows('read', b('b'), b('f')));
  assert.not.ok(set.allows('read', b('a'), b('h\0')), 'the gap [g, h)');
  assert.ok(set.allows('read', b('h'), b('k')));
  assert.not.ok(set.allows('write', b('a'), b('d')), 'WRITE covers only [c, e)');
  assert.ok(set.allows('write', b('c'), b('e')));
});

test('root allows everything; no permission allows nothing; an empty range is checked as its key', () => {
  assert.ok(new PermissionSet([], true).allows('write', b('x'), OPEN));
  const none = new PermissionSet([]);
  assert.not.ok(none.allows('read', b('x')));
  assert.not.ok(none.allows('read', b('b'), b('a')), 'an inverted range passes for nothing');
  const one = new PermissionSet([perm('read', 'b')]);
  assert.ok(one.allows('read', b('b'), b('a')));
  assert.not.ok(one.allows('read', b('c'), b('a')));
});

// The model: the key space cut at every start and end that occurs into elementary intervals,
// each entirely inside or outside every permission; a request is allowed when each elementary
// interval it holds lies in some permission granting the access. Keys are latin1 strings, whose
// code-unit order is the byte order.
const ALPHABET = ['a', 'b', 'c'];
const KEYS: string[] = [''];
for (let len = 1; len <= 2; len++) {
  for (const prefix of KEYS.filter((k) => k.length === len - 1)) for (const ch of ALPHABET) KEYS.push(prefix + ch);
}
KEYS.sort();
const TOP = '\uffff'; // Above every byte string of the test.

/** [start, end) as strings: a single key is [key, key\0), a \0 end is TOP. */
function span(key: string, rangeEnd: string): [string, string] {
  if (rangeEnd === '') return [key, key + '\0'];
  return [key, rangeEnd === '\0' ? TOP : rangeEnd];
}

function modelAllows(perms: Permission[], access: Access, key: string, rangeEnd: string): boolean {
  const latin = (x: Uint8Array): string => Buffer.from(x).toString('latin1');
  const spans = perms.filter((p) => p.type === 'readwrite' || p.type === access).map((p) => span(latin(p.key), latin(p.rangeEnd)));
  let [from, to] = span(key, rangeEnd);
  if (from >= to) [from, to] = span(key, '');
  const cuts = [...new Set([from, to, ...spans.flat()])].filter((c) => c >= from && c <= to).sort();
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [lo, hi] = [cuts[i]!, cuts[i + 1]!];
    if (!spans.some(([s, e]) => s <= lo && hi <= e)) return false;
  }
  return true;
}

test('random permission sets agree with the enumerating model', () => {
  const seed = Number(process.env['QKV_SEED'] ?? 1234);
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const types: PermissionType[] = ['read', 'write', 'readwrite'];
  let checked = 0;
  for (let trial = 0; trial < 300; trial++) {
    const perms: Permission[] = [];
    for (let i = Math.floor(random() * 5); i > 0; i--) {
      const key = pick(KEYS);
      const roll = random();
      const end = roll < 0.3 ? '' : roll < 0.4 ? '\0' : pick(KEYS.concat(['d', 'a\0']));
      perms.push(perm(pick(types), key, end));
    }
    const set = new PermissionSet(perms);
    for (let q = 0; q < 20; q++) {
      const key = pick(KEYS);
      const roll = random();
      const end = roll < 0.3 ? '' : roll < 0.4 ? '\0' : pick(KEYS.concat(['d', 'a\0']));
      const access: Access = random() < 0.5 ? 'read' : 'write';
      const want = modelAllows(perms, access, key, end);
      const got = set.allows(access, b(key), b(end));
      assert.is(got, want, `seed ${seed} (QKV_SEED=${seed} node --import tsx test/node/auth-permissions.test.ts): ${access} [${key}, ${JSON.stringify(end)}) with ${JSON.stringify(perms.map((p) => [p.type, Buffer.from(p.key).toString(), Buffer.from(p.rangeEnd).toString()]))}`);
      checked++;
    }
  }
  assert.ok(checked === 6000, `checked ${checked}`);
});

test.run();
