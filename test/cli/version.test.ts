// Proves the CLI reports the package's own version (read from package.json, not written twice).
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/cli/program.ts';

test('quorumkv --version prints the version in package.json', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  let out = '';
  const code = await runCli(['--version'], { out: (s) => void (out += s), err: () => {} });
  assert.is(code, 0);
  assert.is(out.trim(), version);
});

test.run();
