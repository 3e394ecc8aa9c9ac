// Proves the node's snapshot envelope built from pieces (encodeAppSnapshotParts, which lets the
// store's bytes go in uncopied and be joined once, in slices) is byte-identical to the one-shot
// encodeAppSnapshot across the msgpack bin 8 / 16 / 32 header sizes, and decodes back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeAppSnapshot, encodeAppSnapshot, encodeAppSnapshotParts } from '../../src/node/codec.ts';
import { concatAsync } from '../../src/store/snapshot.ts';

test('pieces join to the one-shot envelope at every bin header size', async () => {
  const members = { n1: 'ws://127.0.0.1:7001', n2: '' };
  const dedupe = ['n1/1/1', 'n2/7/3'];
  for (const n of [0, 1, 255, 256, 65_535, 65_536, 300_000]) {
    const store = new Uint8Array(n).map((_, i) => i & 0xff);
    const whole = Buffer.from(encodeAppSnapshot({ store, members, dedupe }));
    const pieces = encodeAppSnapshotParts([store.subarray(0, n >> 2), new Uint8Array(0), store.subarray(n >> 2)], members, dedupe);
    const joined = await concatAsync(pieces);
    assert.ok(whole.equals(joined), `${n} store bytes`);
    const back = decodeAppSnapshot(joined);
    assert.ok(Buffer.from(back.store).equals(Buffer.from(store)));
    assert.equal(back.members, members);
    assert.equal(back.dedupe, dedupe);
  }
});

test.run();
