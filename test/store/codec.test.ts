// Proves the command codec: every generated command survives encode → decode unchanged (and
// applies identically), and random or damaged bytes only ever raise InvalidArgumentError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError, isQuorumError } from '../../src/errors.ts';
import { Store, decodeCommand, encodeCommand } from '../../src/store/index.ts';
import { Gen, rng } from './gen.ts';

const outcome = (f: () => unknown): unknown => {
  try {
    return f();
  } catch (err) {
    if (!isQuorumError(err)) throw err;
    return err.code;
  }
};

test('round trip: decoded commands apply exactly like the originals', () => {
  const g = new Gen(5);
  const a = new Store();
  const b = new Store();
  for (let i = 0; i < 3000; i++) {
    const cmd = g.command(a.revision);
    const back = decodeCommand(encodeCommand(cmd));
    assert.equal(outcome(() => b.apply(back)), outcome(() => a.apply(cmd)));
  }
  assert.is(a.hash(), b.hash());
});

test('bad bytes raise InvalidArgumentError, never anything else', () => {
  const r = rng(99);
  const g = new Gen(6);
  for (let i = 0; i < 3000; i++) {
    let bytes: Uint8Array;
    if (i % 2 === 0) bytes = Uint8Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256));
    else {
      bytes = Uint8Array.from(encodeCommand(g.command(5)));
      bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
    }
    try {
      decodeCommand(bytes);
    } catch (err) {
      assert.instance(err, InvalidArgumentError, String(err));
    }
  }
  assert.throws(() => decodeCommand(encodeCommand({ type: 'put', request: { key: '', value: new Uint8Array(0) } })), (e: unknown) => e instanceof InvalidArgumentError);
});

test.run();
