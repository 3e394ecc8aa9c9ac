// Proves the client endpoint bounds what slow clients can hold, against the real endpoint served
// over a scripted fake node on 127.0.0.1: a watch client that stops reading is cancelled even when
// only progress notifications flow (its buffer stays bounded), and its connection is dropped when
// it still has not drained after the grace; sequential watches on one kept-alive connection leave
// no listeners behind on the socket; a streamed snapshot under backpressure leaves no listeners
// behind on the response and arrives whole; and concurrent snapshot streams (each holding a whole
// snapshot in memory) are bounded by maxSnapshotStreams.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request, Agent } from 'node:http';
import { connect as netConnect, Socket as NetSocket } from 'node:net';
import type { Socket } from 'node:net';
import { b64 } from './helpers.ts';
import { cleanUp, closers, fakeNode, leakWarnings, serve, until } from './fake-gateway.ts';

test.after.each(cleanUp);

test('a stalled watch client is cancelled when only progress notifications flow', async () => {
  const fake = fakeNode();
  const server = await serve(fake, { maxWatchBufferBytes: 1024 });
  const { port } = new URL(server.url);
  const body = JSON.stringify({ create_request: { key: b64('a'), progress_notify: true } });
  const sock: Socket = netConnect(Number(port), '127.0.0.1');
  sock.on('error', () => {});
  closers.push(() => void sock.destroy());
  sock.write(`POST /v3/watch HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  sock.pause(); // never reads: the kernel buffers fill, then the response's own buffer grows
  await until(() => fake.watches.length === 1, 'the watch');
  const w = fake.watches[0]!;
  for (let i = 0; i < 200_000 && !w.closed; i++) w.emit('progress', { revision: 7 });
  assert.ok(w.closed, 'the watch was cancelled as slow');
});

/** Whether the server's end of `client`'s connection is still open in this process. */
function serverEndOpen(client: Socket, serverPort: number): boolean {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.some((h) => h instanceof NetSocket && !h.destroyed && h.localPort === serverPort && h.remotePort === client.localPort);
}

test('a watch cancelled as slow whose client never drains it is closed after the drain grace', async () => {
  const fake = fakeNode();
  // The kernel's socket buffers (several MiB on loopback) fill first; only then does the
  // response's own buffer pass 1 MiB and pin memory in this process.
  const server = await serve(fake, { maxWatchBufferBytes: 1024 * 1024, requestReadTimeoutMs: 300 });
  const body = JSON.stringify({ create_request: { key: b64('a') } });
  const port = Number(new URL(server.url).port);
  const sock: Socket = netConnect(port, '127.0.0.1');
  sock.on('error', () => {});
  closers.push(() => void sock.destroy());
  sock.write(`POST /v3/watch HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  sock.pause();
  await until(() => fake.watches.length === 1, 'the watch');
  const w = fake.watches[0]!;
  const kv = { key: 'a', value: new Uint8Array(4096), createRevision: 2, modRevision: 2, version: 1, lease: 0 };
  for (let i = 0; i < 20_000 && !w.closed; i++) {
    w.emit('event', { type: 'put', kv, revision: 2 });
    if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // let each batch flush
  }
  assert.ok(w.closed, 'the watch was cancelled as slow');
  assert.ok(serverEndOpen(sock, port), 'the connection is open while the grace runs');
  await until(() => !serverEndOpen(sock, port), 'the server to drop the stalled connection', 3000);
});

test('sequential watches on one kept-alive connection leave no socket listeners behind', async () => {
  // Each watch ends at once from the node's side, as a compacted start revision does.
  const fake = fakeNode({
    onWatch: (w) =>
      setImmediate(() => {
        w.emit('error', Object.assign(new Error('mvcc: required revision has been compacted'), { code: 'COMPACTED' }));
        w.close();
      }),
  });
  const server = await serve(fake, {});
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  closers.push(() => agent.destroy());
  const sockets = new Set<unknown>();
  for (let i = 0; i < 15; i++) {
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(`${server.url}/v3/watch`, { method: 'POST', agent }, (res) => {
        sockets.add(res.socket);
        let out = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (out += c));
        res.on('end', () => resolve(out));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ create_request: { key: b64('a') } }));
    });
    assert.match(text, /"canceled":true/);
  }
  assert.is(sockets.size, 1, 'one kept-alive connection served every watch');
  await new Promise((r) => setImmediate(r));
  assert.equal(leakWarnings().map((w) => w.message), []);
});

test('a streamed snapshot under backpressure leaves no listeners behind and arrives whole', async () => {
  const snapshot = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff);
  const fake = fakeNode({ snapshot });
  const server = await serve(fake, { snapshotChunkBytes: 1024 });
  const res = await fetch(`${server.url}/v3/maintenance/snapshot`, { method: 'POST', body: '{}' });
  const lines = (await res.text()).trim().split('\n');
  const blobs = lines.map((l) => Buffer.from(String((JSON.parse(l) as { result: { blob: string } }).result.blob), 'base64'));
  assert.ok(Buffer.concat(blobs).equals(Buffer.from(snapshot)), 'the snapshot arrived byte for byte');
  assert.equal(leakWarnings().map((w) => w.message), []);
});

test('concurrent snapshot streams are bounded by maxSnapshotStreams', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let calls = 0;
  const fake = fakeNode({ snapshot: new Uint8Array(10), snapshotGate: gate });
  const snapshotBytes = (fake.node as unknown as { snapshotBytes: () => Promise<Uint8Array> }).snapshotBytes;
  (fake.node as unknown as { snapshotBytes: () => Promise<Uint8Array> }).snapshotBytes = () => {
    calls += 1;
    return snapshotBytes();
  };
  const server = await serve(fake, { maxSnapshotStreams: 1 });
  const first = fetch(`${server.url}/v3/maintenance/snapshot`, { method: 'POST', body: '{}' });
  await until(() => calls === 1, 'the first snapshot to start');
  const second = await fetch(`${server.url}/v3/maintenance/snapshot`, { method: 'POST', body: '{}' });
  assert.is(second.status, 503);
  assert.match(await second.text(), /maxSnapshotStreams/);
  open();
  const res = await first;
  assert.is(res.status, 200);
  await res.text();
  const third = await fetch(`${server.url}/v3/maintenance/snapshot`, { method: 'POST', body: '{}' });
  assert.is(third.status, 200, 'the slot is free again');
  await third.text();
});

test.run();
