// Proves the binary form of a plain put (src/store/put-codec.ts): every combination of its fields
// comes back as it went in (absent kept apart from false), only plain puts take it, msgpack
// commands from older logs still decode, the store keeps no view into decoded bytes, and damaged bytes only
// ever raise InvalidArgumentError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError } from '../../src/errors.ts';
import { decodeCommand, encodeCommand, packr } from '../../src/store/codec.ts';
import { BINARY_COMMAND_TAG, decodePlainPut, encodePlainPut } from '../../src/store/put-codec.ts';
import { Store } from '../../src/store/store.ts';
import type { Command, PutRequest } from '../../src/store/types.ts';
import { MAX_PACKED_VALUE_BYTES } from '../../src/store/value-arena.ts';
import { rng } from './gen.ts';

const KEYS = ['k', '/a/b/c', 'ключ', '鍵🔑', 'x'.repeat(300), 'a\u0000b', '\uFEFFk', '\uFEFF'];
const BOOLS = [undefined, false, true] as const;

function plain(req: PutRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (v !== undefined) out[k] = v instanceof Uint8Array ? [...v] : v;
  return out;
}

test('every field combination round-trips exactly (absent is not false)', () => {
  let n = 0;
  for (const key of KEYS)
    for (const lease of [undefined, 0, 7, 2 ** 53 - 1])
      for (const prevKv of BOOLS)
        for (const ignoreValue of BOOLS)
          for (const ignoreLease of BOOLS) {
            const value = Uint8Array.from({ length: n % 5 === 0 ? 0 : (n % 300) + 1 }, (_, i) => (i * 31 + n) & 255);
            const request: PutRequest = { key, value, ...(lease === undefined ? {} : { lease }), ...(prevKv === undefined ? {} : { prevKv }), ...(ignoreValue === undefined ? {} : { ignoreValue }), ...(ignoreLease === undefined ? {} : { ignoreLease }) };
            const bytes = encodeCommand({ type: 'put', request });
            assert.is(bytes[0], BINARY_COMMAND_TAG, 'plain puts take the binary form');
            const back = decodeCommand(bytes);
            assert.is(back.type, 'put');
            if (back.type !== 'put') continue;
            assert.equal(plain(back.request), plain(request));
            assert.is(back.request.value.constructor, Uint8Array);
            n++;
          }
  assert.is(n, KEYS.length * 4 * 27);
  // -0 goes in as 0, as msgpack writes it (a member restored from a snapshot holds 0).
  const z = decodeCommand(encodeCommand({ type: 'put', request: { key: 'k', value: new Uint8Array(0), lease: -0 } }));
  assert.ok(z.type === 'put' && Object.is(z.request.lease, 0));
});

test('undefined fields count as absent; the bytes are deterministic', () => {
  // JavaScript callers can pass explicit undefineds (the type forbids them under exactOptionalPropertyTypes).
  const a = encodeCommand({ type: 'put', request: { key: 'k', value: new Uint8Array([1, 2]), lease: undefined, prevKv: undefined } } as unknown as Command);
  const b = encodeCommand({ type: 'put', request: { key: 'k', value: new Uint8Array([1, 2]) } });
  assert.equal([...a], [...b]);
  const back = decodeCommand(a);
  assert.equal(back.type === 'put' ? Object.keys(back.request) : [], ['key', 'value']);
});

test('puts with expect, other commands and odd shapes stay msgpack and still decode', () => {
  const cmds: Command[] = [
    { type: 'put', request: { key: 'k', value: new Uint8Array([1]), expect: { modRevision: 3 } } },
    { type: 'put', request: { key: 'k', value: new Uint8Array([1]), expect: 'absent' } },
    { type: 'delete', request: { range: { prefix: 'a' } } },
    { type: 'compact', revision: 4 },
    { type: 'leaseGrant', id: 9, ttlMs: 1000 },
  ];
  for (const cmd of cmds) {
    assert.is(encodePlainPut(cmd), undefined);
    const bytes = encodeCommand(cmd);
    assert.is.not(bytes[0], BINARY_COMMAND_TAG);
    assert.equal(JSON.stringify(decodeCommand(bytes)), JSON.stringify(cmd));
  }
  // An extra field (on the command or the request) is not dropped silently: msgpack carries it.
  const extra = { type: 'put', request: { key: 'k', value: new Uint8Array([1]), note: 'x' } } as unknown as Command;
  assert.is(encodePlainPut(extra), undefined);
  const extraTop = { type: 'put', request: { key: 'k', value: new Uint8Array([1]) }, note: 1 } as unknown as Command;
  assert.is(encodePlainPut(extraTop), undefined);
});

test('a put written by an older member (msgpack) still decodes the same', () => {
  const request = { key: '/old/1', value: new Uint8Array([9, 8, 7]), lease: 5, prevKv: true };
  const old = packr.pack({ type: 'put', request });
  assert.is.not(old[0], BINARY_COMMAND_TAG);
  const back = decodeCommand(old);
  assert.equal(back.type === 'put' ? plain(back.request) : undefined, plain(request));
});

test('the store keeps no view into the bytes a command was decoded from (small and large values, both forms)', () => {
  for (const size of [3, MAX_PACKED_VALUE_BYTES + 1]) {
    const value = new Uint8Array(size).fill(5);
    const txn: Command = { type: 'txn', request: { compare: [], success: [{ type: 'put', request: { key: 't', value } }], failure: [] } };
    for (const [key, bytes] of [['k', Uint8Array.from(encodeCommand({ type: 'put', request: { key: 'k', value } }))], ['t', Uint8Array.from(encodeCommand(txn))]] as const) {
      const store = new Store();
      store.apply(decodeCommand(bytes));
      bytes.fill(0);
      assert.equal([...(store.get(key)?.value ?? [])], [...value], `${key}, ${size} B`);
    }
  }
});

test('the binary form and msgpack decode every generated put alike', () => {
  const r = rng(77);
  const alphabet = ['a', 'b', '/', '\uFEFF', 'é', '鍵', '🔑', '\u0000', '\uD800', '\uDFFF'];
  for (let i = 0; i < 3000; i++) {
    const key = Array.from({ length: 1 + Math.floor(r() * 6) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
    const value = Uint8Array.from({ length: Math.floor(r() * 8) }, () => Math.floor(r() * 256));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const lease = pick([undefined, 0, -0, 1, 42, 2 ** 40]);
    const prevKv = pick(BOOLS);
    const request = { key, value, ...(lease === undefined ? {} : { lease }), ...(prevKv === undefined ? {} : { prevKv }) };
    const binary = decodeCommand(encodeCommand({ type: 'put', request }));
    const msgpack = decodeCommand(packr.pack({ type: 'put', request }));
    assert.equal(binary.type === 'put' ? plain(binary.request) : binary, msgpack.type === 'put' ? plain(msgpack.request) : msgpack, JSON.stringify(key));
  }
});

test('malformed binary puts raise InvalidArgumentError naming the fault', () => {
  const good = Uint8Array.from(encodeCommand({ type: 'put', request: { key: 'key', value: new Uint8Array([1]), lease: 3 } }));
  const cases: [string, Uint8Array][] = [
    ['truncated header', good.subarray(0, 5)],
    ['unknown form', Uint8Array.from(good, (b, i) => (i === 1 ? 2 : b))],
    ['unknown flags', Uint8Array.from(good, (b, i) => (i === 2 ? b | 0x80 : b))],
    ['prevKv value without presence', Uint8Array.from(good, (b, i) => (i === 2 ? b | 2 : b))],
    ['ignoreValue value without presence', Uint8Array.from(good, (b, i) => (i === 2 ? b | 8 : b))],
    ['ignoreLease value without presence', Uint8Array.from(good, (b, i) => (i === 2 ? b | 32 : b))],
    ['key runs past the end', Uint8Array.from(good, (b, i) => (i === 3 ? 200 : b))],
    ['lease runs past the end', good.subarray(0, 7 + 3 + 4)],
    ['key is not UTF-8', Uint8Array.from(good, (b, i) => (i === 7 ? 0xff : b))],
  ];
  for (const [fault, bytes] of cases) {
    assert.throws(() => decodeCommand(bytes), (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(fault), fault);
  }
  // Shape checks still run after decoding: an empty key and a fractional lease are refused.
  assert.throws(() => decodeCommand(encodeCommand({ type: 'put', request: { key: '', value: new Uint8Array(0) } })), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => decodeCommand(encodeCommand({ type: 'put', request: { key: 'k', value: new Uint8Array(0), lease: 1.5 } })), (e: unknown) => e instanceof InvalidArgumentError);
});

test('random damage to binary puts: a command or InvalidArgumentError, nothing else', () => {
  const r = rng(4242);
  for (let i = 0; i < 5000; i++) {
    const value = Uint8Array.from({ length: Math.floor(r() * 20) }, () => Math.floor(r() * 256));
    const bytes = Uint8Array.from(encodeCommand({ type: 'put', request: { key: `k${i}`, value, ...(i % 3 === 0 ? { lease: i } : {}), ...(i % 2 === 0 ? { prevKv: true } : {}) } }));
    const flips = 1 + Math.floor(r() * 3);
    for (let f = 0; f < flips; f++) bytes[1 + Math.floor(r() * (bytes.length - 1))] = Math.floor(r() * 256);
    const cut = r() < 0.3 ? bytes.subarray(0, Math.floor(r() * bytes.length) + 1) : bytes;
    try {
      const cmd = decodeCommand(cut);
      assert.is(cmd.type, 'put');
    } catch (err) {
      assert.instance(err, InvalidArgumentError, String(err));
    }
  }
});

test.run();
