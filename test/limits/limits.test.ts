// Proves the cross-layer limits of src/limits.ts are the ones every layer enforces: a request the
// node accepts fits a Raft message, which fits a ws frame, and a `maxRequestBytes` above what the
// transport can carry is refused up front by the node and the gateway with a RangeError naming it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startClientServer } from '../../src/gateway/server.ts';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_REQUEST_BYTES,
  frameBytesFor,
  MAX_MAX_REQUEST_BYTES,
  maxMessageBytesFor,
} from '../../src/limits.ts';
import { normalizeOptions } from '../../src/node/options.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { DEFAULT_LIMITS } from '../../src/store/validate.ts';
import { normalizeWsOptions } from '../../src/transport/ws-options.ts';

test('the largest accepted request fits a Raft message, and that message a default ws frame', () => {
  assert.ok(maxMessageBytesFor(MAX_MAX_REQUEST_BYTES) >= MAX_MAX_REQUEST_BYTES);
  assert.ok(frameBytesFor(maxMessageBytesFor(MAX_MAX_REQUEST_BYTES)) <= DEFAULT_MAX_PAYLOAD_BYTES);
  assert.is(normalizeWsOptions({ listen: { host: '127.0.0.1', port: 0 } }).maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES);
});

test('the node, the store and the gateway share one default request limit', () => {
  assert.is(normalizeOptions({ id: 'n1', storage: memoryStorage() }).maxRequestBytes, DEFAULT_MAX_REQUEST_BYTES);
  assert.is(DEFAULT_LIMITS.maxRequestBytes, DEFAULT_MAX_REQUEST_BYTES);
});

test('a maxRequestBytes above what the transport carries is a RangeError naming the field', async () => {
  const tooBig = MAX_MAX_REQUEST_BYTES + 1;
  let bad: unknown;
  try {
    normalizeOptions({ id: 'n1', storage: memoryStorage(), maxRequestBytes: tooBig });
  } catch (err) {
    bad = err;
  }
  assert.instance(bad, RangeError);
  assert.match((bad as Error).message, /maxRequestBytes/);
  assert.is(normalizeOptions({ id: 'n1', storage: memoryStorage(), maxRequestBytes: MAX_MAX_REQUEST_BYTES }).maxRequestBytes, MAX_MAX_REQUEST_BYTES);
  // The gateway validates its options before it needs the node.
  const gatewayError = await startClientServer(undefined as never, { port: 0, maxRequestBytes: tooBig }).then(() => undefined, (err: unknown) => err);
  assert.instance(gatewayError, RangeError);
  assert.match((gatewayError as Error).message, /maxRequestBytes/);
});

test.run();
