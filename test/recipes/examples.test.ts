// Proves every runnable example (examples/<name>.ts, `npm run example:<name>`) works on its own:
// each runs as a child process, two at a time, and must exit 0 within its time limit.
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const EXAMPLES = ['config', 'discovery', 'election', 'scheduling', 'queue', 'lock'];
const LIMIT_MS = 60_000;

function run(name: string): Promise<{ code: number | null; output: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

test('every example exits 0', async () => {
  const results = new Map<string, { code: number | null; output: string; ms: number }>();
  const queue = [...EXAMPLES];
  await Promise.all(
    [0, 1].map(async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) results.set(name, await run(name));
    }),
  );
  for (const name of EXAMPLES) {
    const r = results.get(name);
    console.log(`example:${name} exit ${r?.code} in ${r?.ms} ms`);
    assert.is(r?.code, 0, `example ${name} failed:\n${r?.output}`);
  }
});

test.run();
