// v3lockpb.Lock over raw HTTP/2: a second Lock waits until the first is unlocked; a waiter whose
// deadline passes gets DEADLINE_EXCEEDED and gives its place up (its key is deleted); and it
// interoperates with `etcdctl lock` (clientv3 concurrency, the same key layout) when installed.
import type { ClientHttp2Session } from 'node:http2';
import { test } from 'uvu';
import { closeSingleEndpoint, firstKvValue, startSingleEndpoint } from './single-endpoint.ts';
import * as assert from 'uvu/assert';
import { frame } from '../../src/grpc/framing.ts';
import { ProtoReader, ProtoWriter } from '../../src/grpc/wire.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { etcdctl, hasEtcdctl } from './helpers.ts';

let node: QuorumNode;
let server: ClientServer;
let session: ClientHttp2Session;

function call(path: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; message: string; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const chunks: Buffer[] = [];
    let status = -1;
    let message = '';
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    });
    req.on('trailers', (t) => {
      status = Number(t['grpc-status']);
      message = decodeURIComponent(String(t['grpc-message'] ?? ''));
    });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', reject);
    req.on('close', () => resolve({ status, message, data: Buffer.concat(chunks).subarray(5) }));
    req.end(frame(body));
  });
}

function lockKey(data: Buffer): string {
  const r = new ProtoReader(data);
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 2) return Buffer.from(r.bytes()).toString();
    r.skip(wire);
  }
  return '';
}

const lockReq = (name: string, lease: number): Uint8Array => new ProtoWriter().bytes(1, Buffer.from(name)).int(2, lease).finish();
const unlockReq = (key: string): Uint8Array => new ProtoWriter().bytes(1, Buffer.from(key)).finish();

test.before(async () => {
  ({ node, server, session } = await startSingleEndpoint('l1'));
});

test.after(() => closeSingleEndpoint({ node, server, session }));

test('Lock waits for the holder; Unlock hands it over; a timed-out waiter gives its place up', async () => {
  const [a, b, c] = await Promise.all([node.grantLease(60_000), node.grantLease(60_000), node.grantLease(60_000)]);
  const first = await call('/v3lockpb.Lock/Lock', lockReq('lk', a.id));
  assert.is(first.status, 0, first.message);
  const key = lockKey(first.data);
  assert.is(key, `lk/${a.id.toString(16)}`);
  let secondDone = false;
  const second = call('/v3lockpb.Lock/Lock', lockReq('lk', b.id)).then((r) => {
    secondDone = true;
    return r;
  });
  const third = await call('/v3lockpb.Lock/Lock', lockReq('lk', c.id), { 'grpc-timeout': '300m' });
  assert.is(third.status, 4);
  assert.is(secondDone, false, 'the second waits while the first holds the lock');
  await new Promise((r) => setTimeout(r, 100));
  assert.is((await node.range({ prefix: 'lk/' })).count, 2, "the timed-out waiter's key is gone");
  assert.is((await call('/v3lockpb.Lock/Unlock', unlockReq(key))).status, 0);
  const got = await second;
  assert.is(got.status, 0, got.message);
  assert.is(lockKey(got.data), `lk/${b.id.toString(16)}`);
  assert.is((await call('/v3lockpb.Lock/Lock', lockReq('lk', 0))).message, 'etcdserver: requested lease not found');
  assert.is((await call('/v3lockpb.Lock/Unlock', unlockReq(lockKey(got.data)))).status, 0);
});

test('interoperates with etcdctl lock (the same keys)', async () => {
  if (!hasEtcdctl) return;
  const lease = await node.grantLease(60_000);
  const held = await call('/v3lockpb.Lock/Lock', lockReq('shared', lease.id));
  assert.is(held.status, 0);
  const ep = server.url.replace(/^http:\/\//, '');
  const waiting = etcdctl(ep, ['lock', 'shared', 'echo', 'etcdctl-holds-it'], { timeoutMs: 20_000 });
  let done = false;
  void waiting.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 800));
  assert.is(done, false, 'etcdctl waits for the gRPC holder');
  await call('/v3lockpb.Lock/Unlock', unlockReq(lockKey(held.data)));
  const r = await waiting;
  assert.is(r.out, 'etcdctl-holds-it\n', r.err);
});

function leaderKeyOf(data: Buffer): Uint8Array {
  const r = new ProtoReader(data);
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 2) return Uint8Array.from(r.bytes());
    r.skip(wire);
  }
  return new Uint8Array(0);
}

test('Election: campaign, leader, proclaim, observe, resign hands over', async () => {
  const [a, b] = await Promise.all([node.grantLease(60_000), node.grantLease(60_000)]);
  const campaign = (lease: number, value: string): Uint8Array => new ProtoWriter().bytes(1, Buffer.from('el')).int(2, lease).bytes(3, Buffer.from(value)).finish();
  const nameReq = new ProtoWriter().bytes(1, Buffer.from('el')).finish();
  assert.is((await call('/v3electionpb.Election/Leader', nameReq)).message, 'election: no leader');
  const first = await call('/v3electionpb.Election/Campaign', campaign(a.id, 'alpha'));
  assert.is(first.status, 0, first.message);
  const aKey = leaderKeyOf(first.data);
  assert.is(firstKvValue((await call('/v3electionpb.Election/Leader', nameReq)).data), 'alpha');
  const observed: string[] = [];
  const obs = session.request({ ':method': 'POST', ':path': '/v3electionpb.Election/Observe', 'content-type': 'application/grpc', te: 'trailers' });
  obs.on('data', (d: Buffer) => {
    for (let at = 0; at + 5 <= d.length; at += 5 + d.readUInt32BE(at + 1)) observed.push(firstKvValue(d.subarray(at + 5, at + 5 + d.readUInt32BE(at + 1))) ?? '');
  });
  obs.on('error', () => {});
  obs.end(frame(nameReq));
  let secondDone = false;
  const second = call('/v3electionpb.Election/Campaign', campaign(b.id, 'beta')).then((r) => ((secondDone = true), r));
  await new Promise((r) => setTimeout(r, 300));
  assert.is(secondDone, false, 'the second candidate waits');
  // aKey is the LeaderKey message of the Campaign response, sent back as is.
  const proclaim = (leaderKey: Uint8Array, value: string): Uint8Array => new ProtoWriter().bytesAlways(1, leaderKey).bytes(2, Buffer.from(value)).finish();
  assert.is((await call('/v3electionpb.Election/Proclaim', proclaim(aKey, 'alpha-2'))).status, 0);
  assert.is(firstKvValue((await call('/v3electionpb.Election/Leader', nameReq)).data), 'alpha-2');
  assert.is((await call('/v3electionpb.Election/Resign', new ProtoWriter().bytesAlways(1, aKey).finish())).status, 0);
  const won = await second;
  assert.is(won.status, 0, won.message);
  assert.is(firstKvValue((await call('/v3electionpb.Election/Leader', nameReq)).data), 'beta');
  assert.is((await call('/v3electionpb.Election/Proclaim', proclaim(aKey, 'stale'))).message, 'election: not leader');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(observed, ['alpha', 'alpha-2', 'beta']);
  obs.close();
});

test.run();
