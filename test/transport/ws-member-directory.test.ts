// Proves the peer listener's member list (`GET /members`, what a joining member reads to find its
// id by its peer URL): served only with the cluster token (401 without it, 426 for any other
// request), and read by the CLI's join lookup, which finds the member whose peer URLs include
// its own, answers undefined when none does, tries the next peer when one is down or does not
// list it yet, and refuses an oversized or malformed list with an error naming the peer.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findJoinIdentity, MAX_MEMBER_LIST_BYTES } from '../../src/cli/join-lookup.ts';
import { CliError } from '../../src/cli/errors.ts';
import { HEADER_TOKEN } from '../../src/transport/peer-link.ts';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import type { WsTransport } from '../../src/transport/ws-transport.ts';
import { freePort } from '../helpers/ports.ts';
import { capturingLogger, recorder } from './helpers.ts';

const started: { stop(): Promise<void> }[] = [];
test.after.each(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

const list = [
  { id: 'a', name: 'a', peerURLs: ['ws://127.0.0.1:1'] },
  { id: 'm-0123456789abcdef', name: '', peerURLs: ['ws://127.0.0.1:2', 'ws://127.0.0.1:3'] },
];

async function member(): Promise<WsTransport> {
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: {}, token: 'secret', logger: capturingLogger() });
  await t.start('a', recorder());
  started.push(t);
  t.setMemberDirectory(() => JSON.stringify(list));
  return t;
}

/** A plain HTTP server answering every request with `body`. */
async function fakePeer(body: string): Promise<string> {
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  started.push({ stop: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('GET /members needs the cluster token; nothing else is served', async () => {
  const t = await member();
  const base = t.url().replace('ws:', 'http:');
  const withToken = await fetch(`${base}/members`, { headers: { [HEADER_TOKEN]: 'secret' } });
  assert.is(withToken.status, 200);
  assert.equal(await withToken.json(), list);
  assert.is((await fetch(`${base}/members`)).status, 401);
  assert.is((await fetch(`${base}/members`, { headers: { [HEADER_TOKEN]: 'wrong' } })).status, 401);
  assert.is((await fetch(`${base}/other`, { headers: { [HEADER_TOKEN]: 'secret' } })).status, 426);
  assert.is((await fetch(`${base}/members`, { method: 'POST', headers: { [HEADER_TOKEN]: 'secret' } })).status, 426);
});

test('the join lookup finds the member by any of its peer URLs, past a peer that is down and one that is behind', async () => {
  const t = await member();
  const down = `ws://127.0.0.1:${await freePort()}`;
  const behind = await fakePeer('[]');
  const found = await findJoinIdentity('ws://127.0.0.1:3', [down, behind, t.url()], 'secret', undefined);
  assert.equal(found, { id: 'm-0123456789abcdef', peers: { a: 'ws://127.0.0.1:1', 'm-0123456789abcdef': 'ws://127.0.0.1:3' } });
  assert.is(await findJoinIdentity('ws://127.0.0.1:9', [t.url()], 'secret', undefined), undefined, 'not listed');
});

test('the join lookup refuses a wrong token, an oversized or malformed list, naming the peer', async () => {
  const t = await member();
  const refused = async (peers: string[], token: string | undefined, re: RegExp): Promise<void> => {
    try {
      await findJoinIdentity('ws://127.0.0.1:3', peers, token, undefined);
    } catch (err) {
      assert.instance(err, CliError);
      assert.match((err as Error).message, re);
      return;
    }
    assert.unreachable('the lookup should fail');
  };
  await refused([t.url()], 'wrong', /answered 401/);
  await refused([await fakePeer('x'.repeat(MAX_MEMBER_LIST_BYTES + 10))], undefined, /over \d+ bytes/);
  await refused([await fakePeer('{"not":"a list"}')], undefined, /not an array/);
  await refused([await fakePeer('[{"id":"","peerURLs":[]}]')], undefined, /bad member id/);
});

test.run();
