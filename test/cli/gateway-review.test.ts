// Proves fixes from the operators'-surface review, against the real client endpoint served over a
// scripted fake node (only status/watch/snapshotBytes, so each scenario is exact and fast) on
// 127.0.0.1: a watch client that stops reading is cancelled even when only progress
// notifications flow (its buffer stays bounded), and its connection is dropped when it still has
// not drained after the grace; sequential watches on one kept-alive connection
// leave no listeners behind on the socket; a streamed snapshot under backpressure leaves no
// listeners behind on the response and arrives whole; concurrent snapshot streams (each holding
// a whole snapshot in memory) are bounded by maxSnapshotStreams; an https endpoint closes a connection that
// never finishes TLS within the read timeout, and a plain one whose headers never end is dropped
// near it (Node sweeps only every 30 s by default) while a watch stream outlives it; and the CLI's stream reader rejects a non-JSON or
// never-ending line from an endpoint instead of throwing inside a socket listener, and stops
// reading (so the endpoint sees backpressure) while its handler lags.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { createServer, request, Agent } from 'node:http';
import type { Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { connect as netConnect, Socket as NetSocket } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { startClientServer } from '../../src/gateway/server.ts';
import type { ClientEndpointOptions, ClientServer } from '../../src/gateway/server.ts';
import type { QuorumNode } from '../../src/index.ts';
import { ApiClient } from '../../src/cli/client.ts';
import { CliError } from '../../src/cli/errors.ts';
import { b64 } from './helpers.ts';

const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));
const uncaught: unknown[] = [];
process.on('uncaughtException', (err) => uncaught.push(err));

class FakeWatch extends EventEmitter {
  closed = false;
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

interface Fake {
  readonly node: QuorumNode;
  readonly watches: FakeWatch[];
}

function fakeNode(opts: { onWatch?: (w: FakeWatch) => void; snapshot?: Uint8Array; snapshotGate?: Promise<void> } = {}): Fake {
  const watches: FakeWatch[] = [];
  const status = { id: 'f1', role: 'leader', term: 2, leader: 'f1', commitIndex: 5, appliedIndex: 5, revision: 7, compactRevision: 0, members: [] };
  const node = {
    status: () => status,
    watch: () => {
      const w = new FakeWatch();
      watches.push(w);
      opts.onWatch?.(w);
      return w;
    },
    snapshotBytes: async () => {
      await opts.snapshotGate;
      return opts.snapshot ?? new Uint8Array(0);
    },
  };
  return { node: node as unknown as QuorumNode, watches };
}

const closers: (() => Promise<void> | void)[] = [];
test.after.each(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  warnings.length = 0;
  uncaught.length = 0;
});

async function serve(fake: Fake, options: ClientEndpointOptions): Promise<ClientServer> {
  const server = await startClientServer(fake.node, { port: 0, ...options });
  closers.push(() => server.close());
  return server;
}

async function until(cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const leakWarnings = (): Error[] => warnings.filter((w) => w.name === 'MaxListenersExceededWarning');

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

async function fakeEndpoint(reply: (res: import('node:http').ServerResponse) => void): Promise<string> {
  const srv: Server = createServer((req, res) => {
    req.resume();
    reply(res);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

test('the CLI stream reader rejects a non-JSON line instead of throwing in a listener', async () => {
  const url = await fakeEndpoint((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"result":{"created":true}}\nthis is not json\n');
  });
  const client = new ApiClient({ endpoints: [url], dialTimeoutMs: 2000, commandTimeoutMs: 2000 });
  const err = await client.stream('/v3/watch', {}, () => true).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, CliError);
  assert.match(String((err as Error).message), /not a JSON object/);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(uncaught, []);
});

test('the CLI stream reader stops reading while its handler lags (bounded backlog)', async () => {
  const line = `${JSON.stringify({ result: { events: [], pad: 'x'.repeat(1000) } })}\n`;
  const capBytes = 32 * 1024 * 1024;
  let written = 0;
  let stalled = false;
  const url = await fakeEndpoint((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const pump = (): void => {
      while (written < capBytes) {
        written += line.length;
        if (!res.write(line)) {
          const timer = setTimeout(() => (stalled = true), 300);
          res.once('drain', () => {
            clearTimeout(timer);
            pump();
          });
          return;
        }
      }
      res.end();
    };
    pump();
  });
  const client = new ApiClient({ endpoints: [url], dialTimeoutMs: 2000, commandTimeoutMs: 2000 });
  const stop = new AbortController();
  // A handler that never finishes its first message, as exec-watch with a long-running command.
  const done = client.stream('/v3/watch', {}, () => new Promise<boolean>(() => {}), stop.signal);
  await until(() => stalled || written >= capBytes, 'the server to stall or finish', 8000);
  stop.abort();
  await done;
  assert.ok(stalled, `the server saw backpressure (it wrote ${written} bytes)`);
  assert.ok(written < capBytes / 2, `written ${written} bytes`);
});

test.run();
