// Proves every error and limit of the store: each rejected command throws its typed error (stable
// code) and changes nothing — revision, keys, lease attachments and watch streams stay as they
// were — including a transaction that fails after some of its writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CompactedError,
  ConflictError,
  DuplicateKeyError,
  FutureRevisionError,
  InvalidArgumentError,
  KeyExistsError,
  KeyNotFoundError,
  LeaseNotFoundError,
  RequestTooLargeError,
  TooManyOpsError,
} from '../../src/errors.ts';
import { Store } from '../../src/store/index.ts';
import type { Command, TxnOp } from '../../src/store/types.ts';

const v = (s: string): Uint8Array => new TextEncoder().encode(s);
const put = (key: string, value = 'x', extra: object = {}): Command => ({ type: 'put', request: { key, value: v(value), ...extra } });

function rejects(store: Store, cmd: Command, cls: new (...args: never[]) => Error, code: string): void {
  const before = store.snapshot().encode();
  const rev = store.revision;
  let caught: unknown;
  try {
    store.apply(cmd);
  } catch (err) {
    caught = err;
  }
  assert.instance(caught, cls, `${JSON.stringify(cmd)} should throw ${cls.name}`);
  assert.is((caught as { code: string }).code, code);
  assert.is(store.revision, rev);
  assert.equal(store.snapshot().encode(), before, 'nothing changed');
}

function seeded(): Store {
  const s = new Store({ maxKeyBytes: 16, maxTxnOps: 8, maxRequestBytes: 1024 });
  s.apply({ type: 'leaseGrant', id: 7, ttlMs: 1000 });
  s.apply(put('a', '1'));
  s.apply(put('b', '2', { lease: 7 }));
  return s;
}

test('shape errors are InvalidArgumentError', () => {
  const s = seeded();
  rejects(s, put(''), InvalidArgumentError, 'INVALID_ARGUMENT');
  rejects(s, { type: 'put', request: { key: 'k', value: 'x' as unknown as Uint8Array } }, InvalidArgumentError, 'INVALID_ARGUMENT');
  rejects(s, { type: 'nope' } as unknown as Command, InvalidArgumentError, 'INVALID_ARGUMENT');
  rejects(s, { type: 'delete', request: { range: { prefix: 'a' }, expect: 'present' } }, InvalidArgumentError, 'INVALID_ARGUMENT');
  rejects(s, { type: 'leaseGrant', id: 0, ttlMs: 5 }, InvalidArgumentError, 'INVALID_ARGUMENT');
  rejects(s, { type: 'leaseGrant', id: 7, ttlMs: 5 }, InvalidArgumentError, 'INVALID_ARGUMENT'); // exists
  rejects(s, { type: 'compact', revision: -1 }, InvalidArgumentError, 'INVALID_ARGUMENT');
  rejects(s, { type: 'txn', request: { compare: [{ range: { key: 'a' }, target: 'value', op: '==', value: 3 }], success: [], failure: [] } }, InvalidArgumentError, 'INVALID_ARGUMENT');
  assert.throws(() => s.range({ key: '' }), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => new Store({ maxTxnOps: 0 }), (e: unknown) => e instanceof RangeError);
});

test('limits: key bytes, request bytes, txn ops (nested ops count)', () => {
  const s = seeded();
  rejects(s, put('k'.repeat(17)), RequestTooLargeError, 'REQUEST_TOO_LARGE');
  rejects(s, put('\u00e9'.repeat(9)), RequestTooLargeError, 'REQUEST_TOO_LARGE'); // 18 UTF-8 bytes
  s.apply(put('\u00e9'.repeat(8))); // exactly 16 bytes is fine
  rejects(s, put('k', 'x'.repeat(2000)), RequestTooLargeError, 'REQUEST_TOO_LARGE');
  const ops = (n: number): TxnOp[] => Array.from({ length: n }, (_, i) => ({ type: 'put', request: { key: `t${i}`, value: v('') } }) as TxnOp);
  s.apply({ type: 'txn', request: { compare: [], success: ops(8), failure: [] } });
  rejects(s, { type: 'txn', request: { compare: [], success: ops(9), failure: [] } }, TooManyOpsError, 'TOO_MANY_OPS');
  const nested: TxnOp = { type: 'txn', request: { compare: [], success: ops(4), failure: ops(4) } };
  rejects(s, { type: 'txn', request: { compare: [], success: [nested], failure: [] } }, TooManyOpsError, 'TOO_MANY_OPS');
  const sizeOk = new Store();
  assert.throws(() => sizeOk.validate(put('k', 'x'.repeat(1.5 * 1024 * 1024))), (e: unknown) => e instanceof RequestTooLargeError);
  sizeOk.validate(put('k', 'x'.repeat(1024 * 1024)));
});

test('duplicate keys in a txn (etcd rules, plus nested put-then-delete)', () => {
  const s = seeded();
  const p = (key: string): TxnOp => ({ type: 'put', request: { key, value: v('') } });
  const d = (prefix: string): TxnOp => ({ type: 'delete', request: { range: { prefix } } });
  const t = (success: TxnOp[], failure: TxnOp[] = []): TxnOp => ({ type: 'txn', request: { compare: [], success, failure } });
  const txn = (success: TxnOp[]): Command => ({ type: 'txn', request: { compare: [], success, failure: [] } });
  rejects(s, txn([p('x'), p('x')]), DuplicateKeyError, 'DUPLICATE_KEY');
  rejects(s, txn([p('xy'), d('x')]), DuplicateKeyError, 'DUPLICATE_KEY');
  rejects(s, txn([d('x'), t([p('xy')])]), DuplicateKeyError, 'DUPLICATE_KEY');
  rejects(s, txn([t([p('x')]), p('x')]), DuplicateKeyError, 'DUPLICATE_KEY');
  rejects(s, txn([t([p('x')]), t([], [p('x')])]), DuplicateKeyError, 'DUPLICATE_KEY');
  rejects(s, txn([t([p('x')]), t([d('x')])]), DuplicateKeyError, 'DUPLICATE_KEY');
  // then/else are exclusive; overlapping deletes are fine.
  s.apply(txn([t([p('x')], [p('x')]), d('q'), d('q')]));
  s.apply({ type: 'txn', request: { compare: [], success: [p('y')], failure: [p('y')] } });
});

test('expectations and lease errors', () => {
  const s = seeded();
  rejects(s, put('a', 'z', { expect: 'absent' }), KeyExistsError, 'KEY_EXISTS');
  rejects(s, put('zz', 'z', { expect: 'present' }), KeyNotFoundError, 'KEY_NOT_FOUND');
  rejects(s, put('a', 'z', { expect: { value: v('nope') } }), ConflictError, 'CONFLICT');
  rejects(s, put('zz', 'z', { expect: { value: v('1') } }), KeyNotFoundError, 'KEY_NOT_FOUND');
  rejects(s, put('a', 'z', { expect: { modRevision: 99 } }), ConflictError, 'CONFLICT');
  rejects(s, put('a', 'z', { expect: { modRevision: 0 } }), ConflictError, 'CONFLICT');
  rejects(s, put('zz', 'z', { expect: { modRevision: 5 } }), KeyNotFoundError, 'KEY_NOT_FOUND');
  rejects(s, put('a', 'z', { expect: { version: 2 } }), ConflictError, 'CONFLICT');
  rejects(s, put('zz', 'z', { ignoreValue: true }), KeyNotFoundError, 'KEY_NOT_FOUND');
  rejects(s, put('zz', 'z', { ignoreLease: true }), KeyNotFoundError, 'KEY_NOT_FOUND');
  rejects(s, put('a', 'z', { lease: 8 }), LeaseNotFoundError, 'LEASE_NOT_FOUND');
  rejects(s, { type: 'leaseRevoke', id: 8 }, LeaseNotFoundError, 'LEASE_NOT_FOUND');
  rejects(s, { type: 'delete', request: { range: { key: 'zz' }, expect: 'present' } }, KeyNotFoundError, 'KEY_NOT_FOUND');
  rejects(s, { type: 'delete', request: { range: { key: 'a' }, expect: { modRevision: 2 } } }, ConflictError, 'CONFLICT');
  s.apply(put('zz', 'z', { expect: { modRevision: 0 } }));
  s.apply(put('a', 'z', { expect: { value: v('1') } }));
  s.apply({ type: 'delete', request: { range: { key: 'a' }, expect: { version: 2 } } });
});

test('revisions: compact and range errors', () => {
  const s = seeded(); // revision 2
  rejects(s, { type: 'compact', revision: 3 }, FutureRevisionError, 'FUTURE_REVISION');
  s.apply({ type: 'compact', revision: 1 });
  rejects(s, { type: 'compact', revision: 1 }, CompactedError, 'COMPACTED');
  assert.throws(() => s.range({ key: 'a' }, { revision: 3 }), (e: unknown) => e instanceof FutureRevisionError);
  s.apply(put('a', '3'));
  s.apply({ type: 'compact', revision: 3 });
  let err: unknown;
  try {
    s.range({ key: 'a' }, { revision: 2 });
  } catch (e) {
    err = e;
  }
  assert.instance(err, CompactedError);
  assert.is((err as CompactedError).compactRevision, 3);
  assert.is(s.range({ key: 'a' }, { revision: 3 }).kvs[0]?.modRevision, 3); // the compact revision itself stays readable
  // A txn whose range op hits a compacted revision fails whole.
  rejects(s, { type: 'txn', request: { compare: [], success: [{ type: 'put', request: { key: 'n', value: v('') } }, { type: 'range', range: { key: 'a' }, options: { revision: 1 } }], failure: [] } }, CompactedError, 'COMPACTED');
});

test('a txn failing after writes rolls back keys, leases and watch events', () => {
  const s = seeded();
  const events: unknown[] = [];
  const w = s.watch({ prefix: '' }, { onReady: () => {} });
  const cmd: Command = {
    type: 'txn',
    request: {
      compare: [],
      success: [
        { type: 'put', request: { key: 'b', value: v('new'), lease: 0 } }, // detaches b from lease 7
        { type: 'put', request: { key: 'c', value: v('c'), lease: 7 } },
        { type: 'delete', request: { range: { key: 'a' } } },
        { type: 'put', request: { key: 'd', value: v('d'), expect: 'present' } }, // fails
      ],
      failure: [],
    },
  };
  rejects(s, cmd, KeyNotFoundError, 'KEY_NOT_FOUND');
  assert.equal(s.lease(7)?.keys, ['b']);
  for (let r = w.next(); r !== undefined; r = w.next()) events.push(r);
  assert.equal(events, []);
  s.apply(put('e'));
  assert.is(w.next()?.kind, 'events');
});

test.run();
