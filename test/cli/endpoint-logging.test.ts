// Proves two things of the client endpoint as a member serves it — the gateway behind the gRPC
// port front (startClientEndpoint) — over a scripted fake node on 127.0.0.1: a reply of 500 (a
// bug) is logged at error level through the node's logger, and a 503 at warn, as is a gRPC call
// that fails with an error of ours that is not a QuorumError (status UNKNOWN); and the front
// does not defeat the HTTP server's connection bookkeeping: close() returns at once although a
// client holds an idle keep-alive connection, and a client whose headers never end is cut near
// requestReadTimeoutMs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { connect as connectHttp2 } from 'node:http2';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import { UnreachableError } from '../../src/errors.ts';
import type { QuorumNode } from '../../src/index.ts';
import { b64 } from './helpers.ts';
import { fakeNode } from './fake-gateway.ts';

interface Line {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

function loggingNode(range: () => Promise<never>): { node: QuorumNode; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg: string): void => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const node = Object.assign(fakeNode().node as object, { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, range });
  return { node: node as unknown as QuorumNode, lines };
}

function post(url: string, path: string, body: unknown, agent?: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a 500 is logged at error with the error, a 503 at warn', async () => {
  let failure: Error = new Error('test: a bug in the node');
  const { node, lines } = loggingNode(() => Promise.reject(failure));
  const server = await startClientEndpoint(node, { port: 0 });
  try {
    assert.is(await post(server.url, '/v3/kv/range', { key: b64('a') }), 500);
    const error = lines.find((l) => l.level === 'error');
    assert.ok(error !== undefined, JSON.stringify(lines));
    assert.is(error.msg, 'gateway: internal error');
    assert.is(error.obj['err'], failure);
    assert.is(error.obj['path'], '/v3/kv/range');
    failure = new UnreachableError('test: no leader');
    assert.is(await post(server.url, '/v3/kv/range', { key: b64('a') }), 503);
    assert.ok(lines.some((l) => l.level === 'warn' && l.obj['status'] === 503), JSON.stringify(lines));
  } finally {
    await server.close();
  }
});

/** One unary gRPC call of `path` with an encoded request; resolves with its grpc-status. */
function grpcCall(url: string, path: string, message: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(url);
    session.on('error', reject);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    let status = '';
    stream.on('response', (headers) => (status ||= String(headers['grpc-status'] ?? '')));
    stream.on('trailers', (trailers) => (status ||= String(trailers['grpc-status'] ?? '')));
    stream.resume();
    stream.on('close', () => {
      session.close();
      resolve(status);
    });
    stream.end(frame);
  });
}

test('a gRPC call failing with an internal error is logged at error', async () => {
  const failure = new Error('test: a bug behind grpc');
  const { node, lines } = loggingNode(() => Promise.reject(failure));
  const server = await startClientEndpoint(node, { port: 0 });
  try {
    // RangeRequest { key: "a" }: field 1, length-delimited.
    const status = await grpcCall(server.url, '/etcdserverpb.KV/Range', Uint8Array.of(0x0a, 0x01, 0x61));
    assert.is(status, '2', 'grpc-status UNKNOWN');
    const error = lines.find((l) => l.level === 'error' && l.msg === 'grpc: internal error');
    assert.ok(error !== undefined, JSON.stringify(lines));
    assert.is(error.obj['err'], failure);
    assert.is(error.obj['method'], '/etcdserverpb.KV/Range');
  } finally {
    await server.close();
  }
});

test('close() does not wait for an idle keep-alive connection', async () => {
  const { node } = loggingNode(() => Promise.reject(new Error('unused')));
  const server = await startClientEndpoint(node, { port: 0 });
  const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
  try {
    await post(server.url, '/v3/kv/range', { key: b64('a') }, agent);
    const started = performance.now();
    await server.close();
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 1_000, `close() took ${tookMs.toFixed(0)} ms`);
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('a client whose headers never end is cut near requestReadTimeoutMs behind the front', async () => {
  const { node } = loggingNode(() => Promise.reject(new Error('unused')));
  const server = await startClientEndpoint(node, { port: 0, requestReadTimeoutMs: 300 });
  try {
    const { port } = new URL(server.url);
    const started = performance.now();
    const closedAfterMs = await new Promise<number>((resolve) => {
      const sock = connect(Number(port), '127.0.0.1', () => sock.write('POST /v3/kv/range HTTP/1.1\r\nhost: x\r\n'));
      sock.on('error', () => {});
      sock.resume();
      sock.on('close', () => resolve(performance.now() - started));
      setTimeout(() => sock.destroy(), 10_000).unref();
    });
    assert.ok(closedAfterMs < 3_000, `cut after ${closedAfterMs.toFixed(0)} ms`);
  } finally {
    await server.close();
  }
});

test.run();
