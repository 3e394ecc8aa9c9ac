// Proves the README is the one built from docs/ (so the two never drift) and that it shows the
// commands a newcomer needs. Regenerate with `npm run docs`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
// @ts-expect-error -- a plain .mjs script without type declarations
import { buildReadme } from '../scripts/build-readme.mjs';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('README.md is up to date with docs/ (run `npm run docs`)', () => {
  assert.ok(readme === (buildReadme as () => string)(), 'README.md is stale: run `npm run docs` and commit it');
});

test('README shows the newcomer commands', () => {
  for (const cmd of ['npm ci', 'npm test', 'npm run demo']) assert.ok(readme.includes(cmd), `README lacks ${cmd}`);
});

test.run();
