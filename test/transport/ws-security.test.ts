// Proves the ws transport's handshake security on 127.0.0.1: a wrong cluster token, an unknown
// member id, a certificate naming another member than the one claimed, a certificate from an
// untrusted CA, plaintext to a TLS member, a protocol version mismatch and a misdirected
// connection are all rejected with a clear log line on the accepting member, and none of the
// attacker's messages reaches the handler. Also proves mutual TLS works when identities match and
// that a dialer refuses a server whose certificate names a different member. Certificates come
// from test/fixtures/tls (see its README).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import type { WsTransport, WsTransportOptions } from '../../src/transport/ws-transport.ts';
import { PROTOCOL_VERSION } from '../../src/protocol/types.ts';
import { WIRE_FORMAT_VERSION } from '../../src/transport/wire.ts';
import { capturingLogger, msg, recorder, sleep, waitFor } from './helpers.ts';
import type { Recorder } from './helpers.ts';

const dir = new URL('../fixtures/tls/', import.meta.url);
const pem = (name: string): Buffer => readFileSync(new URL(name, dir));
const ca = pem('ca.crt');
const tlsFor = (name: string) => ({ cert: pem(`${name}.crt`), key: pem(`${name}.key`), ca });

type Member = { t: WsTransport; r: Recorder; log: ReturnType<typeof capturingLogger> };
const started: WsTransport[] = [];

async function member(id: string, peers: Record<string, string>, extra: Partial<WsTransportOptions> = {}): Promise<Member> {
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers, token: 'secret', logger: log, reconnectBaseMs: 50, reconnectMaxMs: 200, ...extra });
  const r = recorder();
  await t.start(id, r);
  started.push(t);
  return { t, r, log };
}

test.after.each(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

/** Lets `attacker` (claiming `claimed`) send for a while; the victim must log `re` and deliver nothing. */
async function expectRejected(victim: Member, attacker: Member, claimed: string, re: RegExp): Promise<void> {
  await waitFor(() => victim.log.has(re), `victim log ${re}`, 5000);
  for (let i = 0; i < 5; i++) {
    attacker.t.send('n1', [msg(claimed, 'n1', i)]);
    await sleep(20);
  }
  assert.is(victim.r.received.length, 0, 'nothing reached the handler');
  assert.ok(victim.t.stats().rejectedConnections > 0);
}

test('wrong cluster token is rejected', async () => {
  const n1 = await member('n1', { n2: 'ws://127.0.0.1:1' });
  const n2 = await member('n2', { n1: n1.t.url() }, { token: 'not-the-token' });
  await expectRejected(n1, n2, 'n2', /rejected peer connection .*\(claims n2\): wrong cluster token/);
  await waitFor(() => n2.log.has(/cannot reach n1: peer rejected the connection: 401 unauthenticated/), 'dialer logs the refusal');
});

test('unknown member id is rejected', async () => {
  const n1 = await member('n1', { n2: 'ws://127.0.0.1:1' });
  const n9 = await member('n9', { n1: n1.t.url() });
  await expectRejected(n1, n9, 'n9', /claims n9\): unknown member id n9/);
});

test('mutual TLS between matching identities delivers both ways', async () => {
  const n1 = await member('n1', {}, { tls: tlsFor('n1') });
  const n2 = await member('n2', { n1: n1.t.url() }, { tls: tlsFor('n2') });
  n1.t.addPeer('n2', n2.t.url());
  assert.match(n1.t.url(), /^wss:/);
  n1.t.send('n2', [msg('n1', 'n2', 1)]);
  n2.t.send('n1', [msg('n2', 'n1', 2)]);
  await waitFor(() => n1.r.received.length === 1 && n2.r.received.length === 1, 'TLS deliveries');
  assert.ok(n1.log.has(/with mutual TLS/));
});

test('a certificate for another member id is rejected (n3’s certificate claiming n2)', async () => {
  const n1 = await member('n1', { n2: 'wss://127.0.0.1:1' }, { tls: tlsFor('n1') });
  const fake = await member('n2', { n1: n1.t.url() }, { tls: tlsFor('n3') });
  await expectRejected(n1, fake, 'n2', /claims n2\): certificate names \[n3\], not the claimed member n2/);
});

test('a certificate from an untrusted CA is rejected at the TLS handshake', async () => {
  const n1 = await member('n1', { n2: 'wss://127.0.0.1:1' }, { tls: tlsFor('n1') });
  const rogue = await member('n2', { n1: n1.t.url() }, { tls: { cert: pem('wrong.crt'), key: pem('wrong.key'), ca } });
  await expectRejected(n1, rogue, 'n2', /TLS handshake failed/);
});

test('plaintext to a TLS member is rejected', async () => {
  const n1 = await member('n1', { n2: 'wss://127.0.0.1:1' }, { tls: tlsFor('n1') });
  const plain = await member('n2', { n1: n1.t.url().replace('wss:', 'ws:') });
  await expectRejected(n1, plain, 'n2', /TLS handshake failed: plaintext connection to a TLS member/);
});

test('a dialer refuses a server whose certificate names another member', async () => {
  const n3 = await member('n3', {}, { tls: tlsFor('n3') });
  const n2 = await member('n2', { n1: n3.t.url() }, { tls: tlsFor('n2') });
  n2.t.send('n1', [msg('n2', 'n1', 1)]);
  await waitFor(() => n2.log.has(/cannot reach n1: .*certificate names \[n3\], not n1/), 'dialer check');
  assert.is(n3.r.received.length, 0);
});

test('protocol version mismatch and misdirected connections are rejected', async () => {
  const n1 = await member('n1', { n2: 'ws://127.0.0.1:1' });
  const dial = (headers: Record<string, string>): Promise<number> =>
    new Promise((resolve) => {
      const ws = new WebSocket(n1.t.url(), { headers, perMessageDeflate: false });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        resolve(101);
        ws.terminate();
      });
      ws.on('error', () => {});
    });
  const good = { 'x-quorumkv-protocol': String(PROTOCOL_VERSION), 'x-quorumkv-wire': String(WIRE_FORMAT_VERSION), 'x-quorumkv-from': 'n2', 'x-quorumkv-to': 'n1', 'x-quorumkv-token': 'secret' };
  assert.is(await dial({ ...good, 'x-quorumkv-protocol': '99' }), 400);
  assert.ok(n1.log.has(/protocol version mismatch: peer speaks protocol 99/));
  assert.is(await dial({ ...good, 'x-quorumkv-wire': '2' }), 400);
  assert.is(await dial({ ...good, 'x-quorumkv-to': 'n7' }), 421);
  assert.ok(n1.log.has(/connection meant for member n7, this is n1/));
  assert.is(await dial({ ...good, 'x-quorumkv-from': '' }), 400);
  assert.is(await dial(good), 101, 'the same headers with correct values are accepted');
  assert.is(n1.r.received.length, 0);
});

test.run();
