// Proves the client endpoint's read timeouts, against the real endpoint served over a scripted
// fake node on 127.0.0.1: an https endpoint closes a connection that never finishes TLS within the
// read timeout, and a plain one whose request headers never end is dropped near it (Node sweeps
// only every 30 s by default), while a watch stream outlives it (the timeout covers the request).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { b64 } from './helpers.ts';
import { cleanUp, closers, fakeNode, serve, until } from './fake-gateway.ts';

test.after.each(cleanUp);

test('an https endpoint closes a connection that never finishes TLS within the read timeout', async () => {
  const dir = new URL('../fixtures/tls/', import.meta.url);
  const tls = { cert: readFileSync(new URL('n1.crt', dir)), key: readFileSync(new URL('n1.key', dir)) };
  const server = await serve(fakeNode(), { tls, requestReadTimeoutMs: 300 });
  const sock = netConnect(Number(new URL(server.url).port), '127.0.0.1');
  sock.on('error', () => {});
  closers.push(() => void sock.destroy());
  let closed = false;
  sock.on('close', () => (closed = true));
  await until(() => closed, 'the silent TLS connection to be closed');
});

test('a client whose request headers never end is dropped near requestReadTimeoutMs', async () => {
  const server = await serve(fakeNode(), { requestReadTimeoutMs: 300 });
  const sock = netConnect(Number(new URL(server.url).port), '127.0.0.1');
  sock.on('error', () => {});
  sock.on('data', () => {}); // reads, so the server's answer and close are seen
  closers.push(() => void sock.destroy());
  let closed = false;
  sock.on('close', () => (closed = true));
  sock.write('POST /v3/kv/range HTTP/1.1\r\nhost: x\r\n');
  await until(() => closed, 'the slow client to be dropped', 3000);
});

test('a watch stream outlives requestReadTimeoutMs (the read timeout covers only the request)', async () => {
  const fake = fakeNode();
  const server = await serve(fake, { requestReadTimeoutMs: 300 });
  const aborter = new AbortController();
  closers.push(() => aborter.abort());
  const res = await fetch(`${server.url}/v3/watch`, { method: 'POST', body: JSON.stringify({ create_request: { key: b64('a') } }), signal: aborter.signal });
  const reader = res.body!.getReader();
  await reader.read(); // created
  await new Promise((r) => setTimeout(r, 1500));
  fake.watches[0]!.emit('event', { type: 'put', kv: { key: 'a', value: new Uint8Array([1]), createRevision: 2, modRevision: 2, version: 1, lease: 0 }, revision: 2 });
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /"events"/);
  aborter.abort();
});

test.run();
