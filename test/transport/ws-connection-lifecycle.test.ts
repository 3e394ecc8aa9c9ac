// Proves the ws transport's connections end cleanly, against live members on 127.0.0.1 with an
// uncaughtException trap: messages queued while connecting are reported unreachable when the
// peer's address changes (never dropped silently); an outbound connection to a peer that
// completed the handshake and then went silent is closed once its pings go unanswered for
// pingTimeoutMs, then redialed; and a stop() issued while start() is still binding leaves no
// listener or outbound link behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import { capturingLogger, msg, recorder, silentPeer, transportFixture, waitFor } from './helpers.ts';

const { started } = transportFixture(test.after);

test('messages queued while connecting are reported unreachable when the address changes', async () => {
  // A TCP listener that never answers the upgrade keeps the link 'connecting', so sends queue up.
  const sockets = new Set<Socket>();
  const mute = createNetServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  started.push({
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        mute.close(() => resolve());
      }),
  });
  const rec = recorder();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: `ws://127.0.0.1:${(mute.address() as AddressInfo).port}` }, logger: capturingLogger() });
  started.push(t);
  await t.start('n1', rec);
  await waitFor(() => t.stats().peers['n2']?.state === 'connecting', 'the link to be connecting');
  t.send('n2', [msg('n1', 'n2', 1), msg('n1', 'n2', 2)]);
  assert.is(t.stats().peers['n2']?.queuedMessages, 2);
  t.addPeer('n2', 'ws://127.0.0.1:1');
  await waitFor(() => rec.unreachable.includes('n2'), 'n2 to be reported unreachable', 2000);
  assert.is(t.stats().peers['n2']?.droppedMessages, 2);
});

test('an outbound connection whose peer stops answering pings is closed and redialed', async () => {
  const url = await silentPeer(started, 'n2');
  const log = capturingLogger();
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: url }, logger: log, pingIntervalMs: 50, pingTimeoutMs: 200, reconnectBaseMs: 20, reconnectMaxMs: 50 });
  started.push(t);
  await t.start('n1', recorder());
  await waitFor(() => t.stats().peers['n2']?.state === 'open', 'the connection to open');
  await waitFor(() => log.has(/cannot reach n2: no answer to pings for 200 ms/), 'the dead connection to be noticed', 3000);
  await waitFor(() => t.stats().peers['n2']?.state === 'open', 'the link to redial');
});

test('stop() during start() leaves nothing listening or dialing', async () => {
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n2: 'ws://127.0.0.1:1' }, logger: capturingLogger() });
  const starting = t.start('n1', recorder());
  const stopping = t.stop();
  await starting;
  await stopping;
  assert.equal(t.stats().peers, {}, 'no outbound link left');
  assert.is(t.boundPort, 0, 'the listener is closed');
});

test.run();
