// The gRPC transport against hostile or odd input, over raw node:http2: unknown methods,
// malformed protobuf, oversized and compressed messages, bad content types and timeouts, a flood
// of streams, a watch reader that stops reading — each answered with etcd's/gRPC's status on
// that stream only, the member serving on afterwards — and the JSON gateway on the same port.
import { createHash } from 'node:crypto';
import { connect, constants } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import { test } from 'uvu';
import { readBolt } from '../helpers/bolt-reader.ts';
import { closeSingleEndpoint, firstKvValue, startSingleEndpoint } from './single-endpoint.ts';
import * as assert from 'uvu/assert';
import { frame } from '../../src/grpc/framing.ts';
import { ProtoReader, ProtoWriter } from '../../src/grpc/wire.ts';
import { clientUrlOf, createNode } from '../../src/create-node.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';

let node: QuorumNode;
let server: ClientServer;
let session: ClientHttp2Session;
const MAX_MESSAGE = 64 * 1024;

interface Reply {
  readonly status: number;
  readonly message: string;
  readonly messages: Buffer[];
  readonly httpStatus: number;
}

function deframe(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 5 <= data.length) {
    const len = data.readUInt32BE(at + 1);
    out.push(data.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return out;
}

function call(path: string, body: Buffer, headers: Record<string, string> = {}, s: ClientHttp2Session = session): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = s.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (head = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', reject);
    req.on('close', () => {
      const src = trailers['grpc-status'] !== undefined ? trailers : head;
      resolve({
        status: Number(src['grpc-status'] ?? -1),
        message: decodeURIComponent(String(src['grpc-message'] ?? '')),
        messages: deframe(Buffer.concat(chunks)),
        httpStatus: Number(head[':status'] ?? 0),
      });
    });
    req.end(body);
  });
}

function putRequest(key: string, value: string): Buffer {
  return frame(new ProtoWriter().bytes(1, Buffer.from(key)).bytes(2, Buffer.from(value)).finish());
}

function rangeRequest(key: string): Buffer {
  return frame(new ProtoWriter().bytes(1, Buffer.from(key)).finish());
}

test.before(async () => {
  ({ node, server, session } = await startSingleEndpoint('t1', { maxMessageBytes: MAX_MESSAGE, maxStreamsPerConnection: 8, maxWatchBufferBytes: 256 * 1024 }));
});

test.after(() => closeSingleEndpoint({ node, server, session }));

test('a put and a range round-trip; the JSON gateway answers on the same port', async () => {
  const put = await call('/etcdserverpb.KV/Put', putRequest('k', 'v'));
  assert.is(put.status, 0, put.message);
  const range = await call('/etcdserverpb.KV/Range', rangeRequest('k'));
  assert.is(range.status, 0);
  assert.is(firstKvValue(range.messages[0] as Buffer), 'v');
  const res = await fetch(`${server.url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('k').toString('base64') }) });
  const json = (await res.json()) as { kvs: { value: string }[] };
  assert.is(Buffer.from(json.kvs[0]?.value ?? '', 'base64').toString(), 'v');
});

test('unknown service and method: UNIMPLEMENTED', async () => {
  const a = await call('/etcdserverpb.KV/Nope', rangeRequest('k'));
  assert.is(a.status, 12);
  assert.is(a.message, 'unknown method Nope for service etcdserverpb.KV');
  const b = await call('/nope.Svc/X', rangeRequest('k'));
  assert.is(b.status, 12);
  assert.is(b.message, 'unknown service nope.Svc');
});

test('malformed protobuf: INVALID_ARGUMENT, and the member serves on', async () => {
  const bad = [
    Buffer.from([0x0a, 0x7f, 0x01]), // length past the end
    Buffer.from([0x18, 0xff, 0xff]), // truncated varint
    Buffer.from([0x0d, 0, 0, 0, 0]), // key with a fixed32 wire type
    Buffer.from([0x00, 0x01]), // field number 0
    Buffer.from([0x0b]), // a group
    Buffer.from([0x0a, 0x02, 0xff, 0xfe]), // a key that is not UTF-8
  ];
  for (const b of bad) {
    const r = await call('/etcdserverpb.KV/Put', frame(b));
    assert.is(r.status, 3, `${b.toString('hex')}: ${r.message}`);
  }
  const empty = await call('/etcdserverpb.KV/Put', frame(new Uint8Array(0)));
  assert.is(empty.status, 3);
  assert.is(empty.message, 'etcdserver: key is not provided');
  const txnDeep = (depth: number): Uint8Array => (depth === 0 ? new Uint8Array(0) : new ProtoWriter().message(2, (op) => op.bytesAlways(4, txnDeep(depth - 1))).finish());
  const deep = await call('/etcdserverpb.KV/Txn', frame(txnDeep(40)));
  assert.is(deep.status, 3);
  const ok = await call('/etcdserverpb.KV/Range', rangeRequest('k'));
  assert.is(ok.status, 0);
});

test('etcd request limits: too many txn ops, oversized, compressed, truncated', async () => {
  const w = new ProtoWriter();
  for (let i = 0; i < 129; i++) w.message(2, (op) => op.message(2, (p) => p.bytes(1, Buffer.from(`t${i}`))));
  const many = await call('/etcdserverpb.KV/Txn', frame(w.finish()));
  assert.is(many.status, 3);
  assert.is(many.message, 'etcdserver: too many operations in txn request');
  const big = await call('/etcdserverpb.KV/Put', putRequest('big', 'x'.repeat(MAX_MESSAGE + 1)));
  assert.is(big.status, 8);
  assert.match(big.message, 'grpc: received message larger than max');
  const compressed = Buffer.from(putRequest('k', 'v'));
  compressed[0] = 1;
  assert.is((await call('/etcdserverpb.KV/Put', compressed)).status, 12);
  assert.is((await call('/etcdserverpb.KV/Put', putRequest('k', 'v').subarray(0, 6))).status, 13);
  assert.is((await call('/etcdserverpb.KV/Put', Buffer.alloc(0))).status, 13);
  assert.is((await call('/etcdserverpb.KV/Range', rangeRequest('k'))).status, 0);
});

test('etcd error texts: lease not found, compacted, future revision', async () => {
  const lease = await call('/etcdserverpb.KV/Put', frame(new ProtoWriter().bytes(1, Buffer.from('lk')).int(3, 12345).finish()));
  assert.is(lease.status, 5);
  assert.is(lease.message, 'etcdserver: requested lease not found');
  const future = await call('/etcdserverpb.KV/Range', frame(new ProtoWriter().bytes(1, Buffer.from('k')).int(4, 1_000_000).finish()));
  assert.is(future.status, 11);
  assert.is(future.message, 'etcdserver: mvcc: required revision is a future revision');
  const huge = await call('/etcdserverpb.Lease/LeaseGrant', frame(new ProtoWriter().int(1, 10).int(2, 2n ** 60n).finish()));
  assert.is(huge.status, 3, 'a lease id beyond 2^53 is refused, never rounded');
});

test('bad content type, bad grpc-timeout, deadline exceeded', async () => {
  assert.is((await call('/etcdserverpb.KV/Range', rangeRequest('k'), { 'content-type': 'text/plain' })).httpStatus, 415);
  assert.is((await call('/etcdserverpb.KV/Range', rangeRequest('k'), { 'grpc-timeout': 'soon' })).status, 3);
  const started = Date.now();
  const watch = frame(new ProtoWriter().message(1, (c) => c.bytes(1, Buffer.from('dl'))).finish());
  const r = await new Promise<Reply>((resolve, reject) => {
    // A watch stream that stays open: the deadline ends it.
    const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '300m' });
    let trailers: IncomingHttpHeaders = {};
    req.on('trailers', (t) => (trailers = t));
    req.on('data', () => {});
    req.on('error', reject);
    req.on('close', () => resolve({ status: Number(trailers['grpc-status'] ?? -1), message: String(trailers['grpc-message'] ?? ''), messages: [], httpStatus: 200 }));
    req.write(watch);
  });
  assert.is(r.status, 4);
  assert.ok(Date.now() - started >= 250);
});

test('a flood of streams on one connection is bounded; the member serves on', async () => {
  const s = connect(server.url);
  s.on('error', () => {});
  const results = await Promise.allSettled(
    Array.from({ length: 200 }, () =>
      call('/etcdserverpb.Watch/Watch', frame(new ProtoWriter().message(1, (c) => c.bytes(1, Buffer.from('flood'))).finish()), { 'grpc-timeout': '500m' }, s),
    ),
  );
  // Each stream ends: by its deadline (4) when admitted; refused streams reject or end otherwise.
  assert.is(results.length, 200);
  s.destroy();
  assert.is((await call('/etcdserverpb.KV/Range', rangeRequest('k'))).status, 0);
});

test('a watch reader that stops reading: its stream is closed with RESOURCE_EXHAUSTED, memory stays bounded', async () => {
  const s = connect(server.url, { settings: { initialWindowSize: 65535 } });
  s.on('error', () => {});
  const req = s.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
  req.on('error', () => {});
  let trailers: IncomingHttpHeaders = {};
  req.on('trailers', (t) => (trailers = t));
  const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
  req.write(frame(new ProtoWriter().message(1, (c) => c.bytes(1, Buffer.from('slow/')).bytes(2, Buffer.from('slow0'))).finish()));
  await new Promise((r) => setTimeout(r, 100));
  req.pause();
  const value = 'v'.repeat(16 * 1024);
  for (let i = 0; i < 60; i++) await node.put(`slow/${i}`, value);
  await new Promise((r) => setTimeout(r, 300));
  req.resume();
  req.on('data', () => {});
  await closed;
  assert.is(trailers['grpc-status'], '8');
  assert.match(String(trailers['grpc-message']), 'slow reader');
  s.destroy();
  assert.is((await call('/etcdserverpb.KV/Range', rangeRequest('k'))).status, 0);
});

test('Snapshot streams an etcd bolt database in chunks, remaining_bytes counting down, with etcd\'s sha256 trailer', async () => {
  const value = 'z'.repeat(16 * 1024);
  for (let i = 0; i < 40; i++) await node.put(`snap/${i}`, value);
  const r = await call('/etcdserverpb.Maintenance/Snapshot', frame(new Uint8Array(0)));
  assert.is(r.status, 0, r.message);
  assert.ok(r.messages.length > 5, `${r.messages.length} chunks`);
  const parts = r.messages.map((m) => {
    const rd = new ProtoReader(m);
    let blob: Uint8Array = new Uint8Array(0);
    let remaining = 0;
    while (!rd.done) {
      const { field, wire } = rd.tag();
      if (field === 2) remaining = rd.int53('remaining_bytes');
      else if (field === 3) blob = rd.bytes();
      else rd.skip(wire);
    }
    assert.ok(blob.length > 0 && blob.length <= 64 * 1024, `a chunk of ${blob.length} bytes`);
    return { blob: Buffer.from(blob), remaining };
  });
  const all = Buffer.concat(parts.map((p) => p.blob));
  let left = all.length;
  for (const p of parts) {
    left -= p.blob.length;
    assert.is(p.remaining, left);
  }
  const db = all.subarray(0, all.length - 32);
  const digest = createHash('sha256').update(db).digest();
  assert.ok(digest.equals(all.subarray(all.length - 32)));
  const keys = readBolt(db).buckets.get('key')?.entries.map(([, kv]) => Buffer.from(kv).toString('latin1')) ?? [];
  assert.is(keys.filter((kv) => kv.includes('snap/') && kv.includes(value)).length, 40);
});

test('Snapshot streams are bounded (2 open: a third is RESOURCE_EXHAUSTED) and a cancelled one frees its slot', async () => {
  const value = 'y'.repeat(16 * 1024);
  for (let i = 0; i < 40; i++) await node.put(`snap2/${i}`, value);
  // Two streams whose reader stops after the first bytes: the server waits on their windows.
  const opened = [0, 1].map(() => {
    const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Maintenance/Snapshot', 'content-type': 'application/grpc', te: 'trailers' });
    req.on('error', () => {});
    const first = new Promise<void>((resolve) => req.once('data', () => resolve()));
    req.end(frame(new Uint8Array(0)));
    return { req, first };
  });
  for (const o of opened) {
    await o.first;
    o.req.pause();
  }
  const third = await call('/etcdserverpb.Maintenance/Snapshot', frame(new Uint8Array(0)));
  assert.is(third.status, 8, third.message);
  assert.match(third.message, 'too many snapshot streams');
  for (const o of opened) o.req.close(constants.NGHTTP2_CANCEL);
  let after: Reply | undefined;
  for (let i = 0; i < 50 && after?.status !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await call('/etcdserverpb.Maintenance/Snapshot', frame(new Uint8Array(0)));
  }
  assert.is(after?.status, 0, after?.message);
});

test('an embedded node (createNode({ client }), msgpack codec) serves gRPC on its client port', async () => {
  const app = await createNode({ id: 'app', storage: memoryStorage(), electionTimeoutMs: 300, heartbeatMs: 30, client: { port: 0 } });
  try {
    await app.ready();
    const s = connect(clientUrlOf(app) ?? '');
    s.on('error', () => {});
    assert.is((await call('/etcdserverpb.KV/Put', putRequest('bytes', 'raw'), {}, s)).status, 0);
    const stored = await app.get<Uint8Array>('bytes');
    assert.is(Buffer.from(stored?.value ?? new Uint8Array(0)).toString(), 'raw');
    await app.put('text', 'written by the app');
    const read = await call('/etcdserverpb.KV/Range', rangeRequest('text'), {}, s);
    assert.is(firstKvValue(read.messages[0] as Buffer), 'written by the app');
    s.close();
  } finally {
    await app.close();
  }
});

test('a member with a client token refuses gRPC calls without it (UNAUTHENTICATED) and serves those with it', async () => {
  const app = await createNode({ id: 'tok', storage: memoryStorage(), electionTimeoutMs: 300, heartbeatMs: 30, client: { port: 0, token: 's3cret' } });
  try {
    await app.ready();
    const s = connect(clientUrlOf(app) ?? '');
    s.on('error', () => {});
    const none = await call('/etcdserverpb.KV/Put', putRequest('k', 'v'), {}, s);
    assert.is(none.status, 16);
    assert.match(none.message, /client token/);
    assert.is((await call('/etcdserverpb.KV/Put', putRequest('k', 'v'), { authorization: 'Bearer wrong' }, s)).status, 16);
    assert.is((await call('/etcdserverpb.KV/Range', rangeRequest('k'), { token: 'nope' }, s)).status, 16);
    assert.is(await app.get('k', { consistency: 'serializable' }), undefined, 'nothing was written without the token');
    assert.is((await call('/etcdserverpb.KV/Put', putRequest('k', 'v'), { authorization: 'Bearer s3cret' }, s)).status, 0);
    assert.is((await call('/etcdserverpb.KV/Range', rangeRequest('k'), { token: 's3cret' }, s)).status, 0);
    s.close();
  } finally {
    await app.close();
  }
});

test.run();
