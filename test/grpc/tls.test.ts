// gRPC over TLS on the same port as the JSON gateway over https: ALPN `h2` goes to gRPC,
// `http/1.1` to the gateway. The etcd3 client (grpc-js), etcdctl (when installed) with and without a
// client certificate (mutual TLS), and an https JSON request, all against one endpoint.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Etcd3 } from 'etcd3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import { createNode } from '../../src/create-node.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';
import { etcdctl, hasEtcdctl } from './helpers.ts';

const dir = new URL('../fixtures/tls/', import.meta.url).pathname;
const pem = (name: string): Buffer => readFileSync(`${dir}${name}`);
let node: QuorumNode;
let server: ClientServer;
let mutual: ClientServer;

test.before(async () => {
  node = await createNode({ id: 'tls1', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  server = await startClientEndpoint(node, { port: 0, tls: { cert: pem('n1.crt'), key: pem('n1.key') } });
  mutual = await startClientEndpoint(node, { port: 0, tls: { cert: pem('n1.crt'), key: pem('n1.key'), ca: pem('ca.crt') } });
});

test.after(async () => {
  await server.close();
  await mutual.close();
  await node.close();
});

test('etcd3 over TLS (ALPN h2) and the JSON gateway over https on the same port', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const client = new Etcd3({ hosts: server.url, credentials: { rootCertificate: pem('ca.crt') } });
  try {
    await client.put('tk').value('tv');
    assert.is(await client.get('tk').string(), 'tv');
  } finally {
    client.close();
  }
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(`${server.url}/v3/kv/range`, { method: 'POST', ca: pem('ca.crt') }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ key: Buffer.from('tk').toString('base64') }));
  });
  assert.match(body, Buffer.from('tv').toString('base64'));
});

test('etcdctl over TLS, and mutual TLS with and without a client certificate', async () => {
  if (!hasEtcdctl) return;
  const ep = server.url;
  const put = await etcdctl(ep, ['--cacert', `${dir}ca.crt`, 'put', 'tk2', 'v2']);
  assert.is(put.code, 0, put.err);
  const get = await etcdctl(mutual.url, ['--cacert', `${dir}ca.crt`, '--cert', `${dir}n2.crt`, '--key', `${dir}n2.key`, 'get', 'tk2', '--print-value-only']);
  assert.is(get.out, 'v2\n', get.err);
  const refused = await etcdctl(mutual.url, ['--cacert', `${dir}ca.crt`, '--dial-timeout', '1s', 'get', 'tk2']);
  assert.is.not(refused.code, 0);
});

test.run();
