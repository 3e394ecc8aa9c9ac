// Proves the CLI's stream reader is safe against a bad endpoint, using a plain fake endpoint on
// 127.0.0.1 with an uncaughtException trap: a non-JSON line is a rejected CliError instead of a
// throw inside a socket listener, and the reader stops reading (so the endpoint sees
// backpressure) while its handler lags, keeping its backlog bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiClient } from '../../src/cli/client.ts';
import { CliError } from '../../src/cli/errors.ts';
import { cleanUp, fakeEndpoint, uncaught, until } from './fake-gateway.ts';

test.after.each(cleanUp);

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
