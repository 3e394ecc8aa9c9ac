// Proves `npm run demo` (examples/demo.ts) works end to end: three member processes on loopback,
// election, writes + watch, lock hand-over, kill -9 of the leader, restart, clean shutdown — it
// must exit 0 and print each step. The demo itself checks fencing tokens and that nothing was lost.
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('the demo exits 0 and shows every step', async () => {
  const started = Date.now();
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, output: out });
    });
  });
  console.log(`demo exit ${code} in ${Date.now() - started} ms`);
  assert.is(code, 0, output);
  for (const needle of ['is leader for term', 'watch put /demo/greeting', 'strictly increasing', 'kill -9', 'new leader', 'every acknowledged write is there', 'rejoined', 'demo finished']) {
    assert.ok(output.includes(needle), `demo output shows "${needle}"\n${output}`);
  }
});

test.run();
