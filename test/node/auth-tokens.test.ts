// Proves the simple-token table (src/node/auth/tokens.ts) with an injected clock: a token lives
// TOKEN_TTL_MS after its last use (each use refreshes it), expired and revoked tokens are gone,
// tokens are random and distinct, the table never holds more than its bound (the least recently
// used token is dropped first), and the sweep removes expired tokens only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TokenTable } from '../../src/node/auth/tokens.ts';

const grant = { user: 'u', passwordHash: undefined, epoch: 1 };

test('a token lives ttl after its last use', () => {
  let now = 1_000;
  const t = new TokenTable(() => now, 100, 10);
  const token = t.issue(grant);
  assert.ok(token.length >= 20);
  now += 99;
  assert.equal(t.use(token)?.user, 'u');
  now += 99; // 198 after issue, 99 after the last use.
  assert.equal(t.use(token)?.user, 'u', 'refreshed by use');
  now += 100;
  assert.is(t.use(token), undefined, 'expired');
  assert.is(t.size, 0);
  const other = t.issue(grant);
  t.revoke(other);
  assert.is(t.use(other), undefined, 'revoked');
  assert.is(t.use('never-issued'), undefined);
});

test('bounded: the least recently used token is dropped; sweep drops expired ones only', () => {
  let now = 0;
  const t = new TokenTable(() => now, 1_000, 3);
  const a = t.issue(grant);
  const b = t.issue(grant);
  const c = t.issue(grant);
  assert.is(new Set([a, b, c]).size, 3);
  t.use(a); // a is now the most recently used.
  const d = t.issue(grant);
  assert.is(t.size, 3);
  assert.is(t.use(b), undefined, 'b was the least recently used');
  assert.ok(t.use(a) !== undefined && t.use(c) !== undefined && t.use(d) !== undefined);
  now = 500;
  t.use(d);
  now = 1_200; // a and c expired at 1_000 (last used at 0); d lives until 1_500.
  t.sweep();
  assert.is(t.size, 1);
  assert.ok(t.use(d) !== undefined);
});

test.run();
