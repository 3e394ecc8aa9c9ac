// Proves the package's public surface: the root export keeps every entry point (createNode with
// its client endpoint, the recipes as free functions over a node, the transports and storages),
// the recipe methods are gone from the node class, and the `quorumkv/recipes` and
// `quorumkv/testing` subpaths export the very same objects as the root, each mapped in
// package.json to a module that the build emits from src/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import * as root from '../../src/index.ts';
import * as recipes from '../../src/recipes/index.ts';
import * as testing from '../../src/testing.ts';

const rootDir = new URL('../..', import.meta.url).pathname;

test('the root exports createNode, clientUrlOf, the recipes and the in-process blocks', () => {
  for (const name of ['createNode', 'clientUrlOf', 'acquireLock', 'tryLock', 'createElection', 'createSession', 'createQueue', 'createRegistry', 'createConfig', 'memoryTransport', 'memoryStorage', 'fileStorage', 'wsTransport', 'QuorumError']) {
    assert.type((root as Record<string, unknown>)[name], 'function', `${name} is exported`);
  }
  assert.type(root.cmp.value, 'function');
  assert.type(root.op.put, 'function');
});

test('the node class has no recipe methods: recipes are free functions taking the node', () => {
  const proto = root.QuorumNode.prototype as unknown as Record<string, unknown>;
  assert.is(proto['lock'], undefined);
  assert.is(proto['election'], undefined);
});

test('the subpaths export the same objects as the root', () => {
  for (const [name, value] of Object.entries(recipes)) assert.is((root as Record<string, unknown>)[name], value, `recipes.${name}`);
  for (const [name, value] of Object.entries(testing)) assert.is((root as Record<string, unknown>)[name], value, `testing.${name}`);
});

test('every package.json export maps to a module built from src/', () => {
  const pkg = JSON.parse(readFileSync(`${rootDir}/package.json`, 'utf8')) as { exports: Record<string, string | { types: string; default: string }> };
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue;
    const source = target.default.replace('./dist/', 'src/').replace(/\.js$/, '.ts');
    assert.ok(existsSync(`${rootDir}/${source}`), `${subpath} -> ${target.default} is built from ${source}`);
    assert.is(target.types, target.default.replace(/\.js$/, '.d.ts'));
  }
  assert.ok('./recipes' in pkg.exports);
  assert.ok('./testing' in pkg.exports);
});

test.run();
