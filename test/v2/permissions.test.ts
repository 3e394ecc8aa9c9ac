// Proves the v2→v3 permission mapping (src/v2/permissions.ts) names the v3 keys and prefixes
// each v2 operation reads or writes: a file is its key, a directory its key plus the prefix
// holding its marker and subtree, a non-recursive wait the key and its marker, a write the key,
// the ancestor markers it creates and (with a compare) READ, an in-order POST the directory's
// prefix. Checked as data, then against real permission sets: a grant covering exactly the
// mapped keys passes, one missing any part of them fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PermissionSet, prefixKeys } from '../../src/node/auth/permission-set.ts';
import type { Permission } from '../../src/node/auth/types.ts';
import { needsOf } from '../../src/v2/permissions.ts';
import type { KeyNeed, V2Operation } from '../../src/v2/permissions.ts';

const read = (key: string, prefix = false): KeyNeed => ({ access: 'read', key, prefix });
const write = (key: string, prefix = false): KeyNeed => ({ access: 'write', key, prefix });

test('reads: a file is its key; a directory its prefix (marker included); the root its prefix', () => {
  assert.equal(needsOf({ kind: 'get', key: '/a/b', dir: false }), [read('/a/b')]);
  assert.equal(needsOf({ kind: 'get', key: '/a', dir: true }), [read('/a/', true)]);
  assert.equal(needsOf({ kind: 'get', key: '/', dir: true }), [read('/', true)]);
  assert.equal(needsOf({ kind: 'get', key: '/', dir: false }), [read('/', true)]);
});

test('waits: the key and its marker, or the key and its subtree when recursive', () => {
  assert.equal(needsOf({ kind: 'wait', key: '/a', recursive: false }), [read('/a'), read('/a/')]);
  assert.equal(needsOf({ kind: 'wait', key: '/a', recursive: true }), [read('/a'), read('/a/', true)]);
  assert.equal(needsOf({ kind: 'wait', key: '/', recursive: false }), [read('/', true)]);
});

test('writes: the key, the markers created, READ with a compare; a directory its prefix', () => {
  assert.equal(needsOf({ kind: 'put', key: '/a/b/c', dir: false, compares: false, createdMarkers: [] }), [write('/a/b/c')]);
  assert.equal(needsOf({ kind: 'put', key: '/a/b/c', dir: false, compares: false, createdMarkers: ['/a/b/', '/a/'] }), [write('/a/b/c'), write('/a/b/'), write('/a/')]);
  assert.equal(needsOf({ kind: 'put', key: '/a/b', dir: false, compares: true, createdMarkers: [] }), [write('/a/b'), read('/a/b')]);
  assert.equal(needsOf({ kind: 'put', key: '/d', dir: true, compares: false, createdMarkers: [] }), [write('/d'), write('/d/', true)]);
});

test('in-order POST: the whole prefix of the directory (the member picks the name) and new markers', () => {
  assert.equal(needsOf({ kind: 'post', dir: '/q', createdMarkers: [] }), [write('/q/', true)]);
  assert.equal(needsOf({ kind: 'post', dir: '/x/q', createdMarkers: ['/x/'] }), [write('/x/q/', true), write('/x/')]);
});

test('deletes: the key; a directory or subtree its prefix; READ with a compare', () => {
  assert.equal(needsOf({ kind: 'delete', key: '/a', subtree: false, compares: false }), [write('/a')]);
  assert.equal(needsOf({ kind: 'delete', key: '/a', subtree: true, compares: false }), [write('/a'), write('/a/', true)]);
  assert.equal(needsOf({ kind: 'delete', key: '/a', subtree: false, compares: true }), [write('/a'), read('/a')]);
});

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function allowed(grants: readonly Permission[], op: V2Operation): boolean {
  const set = new PermissionSet(grants);
  return needsOf(op).every((n) => {
    const r = n.prefix ? prefixKeys(n.key) : { key: utf8(n.key), rangeEnd: undefined };
    return set.allows(n.access, r.key, r.rangeEnd);
  });
}

const key = (type: Permission['type'], k: string): Permission => ({ type, key: utf8(k), rangeEnd: new Uint8Array(0) });
const prefix = (type: Permission['type'], p: string): Permission => ({ type, ...prefixKeys(p) });

test('against permission sets: exactly the mapped keys are needed', () => {
  const file: V2Operation = { kind: 'get', key: '/app/x', dir: false };
  assert.ok(allowed([key('read', '/app/x')], file), 'READ on the key reads the file');
  assert.not.ok(allowed([key('write', '/app/x')], file), 'WRITE alone does not read');
  const dir: V2Operation = { kind: 'get', key: '/app', dir: true };
  assert.not.ok(allowed([key('read', '/app'), key('read', '/app/')], dir), 'the marker alone does not list the subtree');
  assert.ok(allowed([prefix('read', '/app/')], dir), 'the prefix lists the directory');
  assert.not.ok(allowed([prefix('read', '/app/')], { kind: 'get', key: '/app', dir: false }), 'a file named like the directory is its own key');
  const nested: V2Operation = { kind: 'put', key: '/app/new/x', dir: false, compares: false, createdMarkers: ['/app/new/'] };
  assert.ok(allowed([prefix('readwrite', '/app/')], nested));
  assert.not.ok(allowed([key('write', '/app/new/x')], nested), 'the created marker needs WRITE too');
  const post: V2Operation = { kind: 'post', dir: '/queue', createdMarkers: [] };
  assert.ok(allowed([prefix('write', '/queue/')], post));
  assert.not.ok(allowed([key('write', '/queue/00000000000000000001')], post), 'one name is not the directory');
  const cas: V2Operation = { kind: 'put', key: '/app/x', dir: false, compares: true, createdMarkers: [] };
  assert.not.ok(allowed([key('write', '/app/x')], cas), 'a compare reads');
  assert.ok(allowed([key('readwrite', '/app/x')], cas));
  assert.ok(allowed([{ type: 'readwrite', key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }], { kind: 'delete', key: '/', subtree: true, compares: false }));
});

test.run();
