// The etcd bolt database written from a store view (src/grpc/bolt): small stores are written,
// decoded by an independent strict reader (test/helpers/bolt-reader.ts: meta checksums, page ids,
// reachability, sorted keys, overflow) and compared field by field with what etcd 3.4 keeps:
// revision keys with sub-revisions in op order, tombstones, KeyValue protobufs in etcd numbering,
// the meta and lease buckets, overflow pages and branch levels; `etcdctl snapshot status` reads
// the file when etcdctl is installed.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planEtcdDb } from '../../src/grpc/bolt/etcd-db.ts';
import { revisionKey } from '../../src/grpc/bolt/key-page.ts';
import { ProtoReader, readFields } from '../../src/grpc/wire.ts';
import { Store } from '../../src/store/store.ts';
import { readBolt } from '../helpers/bolt-reader.ts';
import type { BoltFile } from '../helpers/bolt-reader.ts';
import { hasEtcdctl } from './helpers.ts';

const enc = new TextEncoder();
const put = (key: string, value: string, lease = 0) => ({ type: 'put', request: { key, value: enc.encode(value), ...(lease === 0 ? {} : { lease }) } }) as const;

async function dbOf(store: Store, consistentIndex = 42): Promise<{ bytes: Buffer; file: BoltFile; records: number; revision: number }> {
  const db = await planEtcdDb(store.snapshot().view, consistentIndex);
  const pages: Uint8Array[] = [];
  for await (const p of db.pages()) pages.push(p);
  const bytes = Buffer.concat(pages);
  assert.is(bytes.length, db.totalBytes);
  return { bytes, file: readBolt(bytes), records: db.keyRecords, revision: db.revision };
}

interface Kv {
  key: string;
  createRevision: number;
  modRevision: number;
  version: number;
  value: string;
  lease: number;
}

function decodeKv(bytes: Uint8Array): Kv {
  const kv: Kv = { key: '', createRevision: 0, modRevision: 0, version: 0, value: '', lease: 0 };
  const r = new ProtoReader(bytes);
  readFields(r, (f) => {
    if (f === 1) kv.key = Buffer.from(r.bytes()).toString();
    else if (f === 2) kv.createRevision = r.int53('create');
    else if (f === 3) kv.modRevision = r.int53('mod');
    else if (f === 4) kv.version = r.int53('version');
    else if (f === 5) kv.value = Buffer.from(r.bytes()).toString();
    else if (f === 6) kv.lease = r.int53('lease');
    else return false;
    return true;
  });
  return kv;
}

/** The key bucket as [main, sub, tombstone, kv] rows. */
function keyRows(file: BoltFile): [number, number, boolean, Kv][] {
  const bucket = file.buckets.get('key');
  assert.ok(bucket, 'a key bucket');
  return bucket.entries.map(([k, v]) => {
    const b = Buffer.from(k);
    assert.ok(b.length === 17 || (b.length === 18 && b[17] === 0x74), `revision key ${b.toString('hex')}`);
    assert.is(b[8], 0x5f);
    return [Number(b.readBigUInt64BE(0)), Number(b.readBigUInt64BE(9)), b.length === 18, decodeKv(v)];
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('a small store: every etcd bucket, revision keys with op-order subs, KeyValues in etcd numbering, meta, lease', async () => {
  const s = new Store();
  s.apply({ type: 'leaseGrant', id: 7, ttlMs: 2500 });
  s.apply(put('a', '1')); // ours 1, etcd 2
  s.apply(put('b', '2', 7)); // 3
  s.apply({ type: 'txn', request: { compare: [], success: [put('z', 'zz'), put('c', 'cc')], failure: [] } }); // 4: z then c
  s.apply({ type: 'delete', request: { range: { key: 'a' } } }); // 5
  const { file, records, revision } = await dbOf(s);
  assert.is(revision, 5);
  assert.is(records, 5);
  assert.equal([...file.buckets.keys()].sort(), ['alarm', 'auth', 'authRoles', 'authUsers', 'cluster', 'key', 'lease', 'members', 'members_removed', 'meta']);
  assert.equal(
    keyRows(file).map(([main, sub, tomb, kv]) => [main, sub, tomb, kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease]),
    [
      [2, 0, false, 'a', '1', 2, 2, 1, 0],
      [3, 0, false, 'b', '2', 3, 3, 1, 7],
      [4, 0, false, 'z', 'zz', 4, 4, 1, 0],
      [4, 1, false, 'c', 'cc', 4, 4, 1, 0],
      // etcd's tombstone: the key alone, its revision key marked 't'.
      [5, 0, true, 'a', '', 0, 0, 0, 0],
    ],
  );
  const meta = file.buckets.get('meta');
  assert.equal(meta?.entries.map(([k, v]) => [Buffer.from(k).toString(), hex(v)]), [['consistent_index', '000000000000002a']]);
  const lease = file.buckets.get('lease');
  // leasepb.Lease { ID: 7, TTL: 3 } (2.5 s rounded up to whole seconds).
  assert.equal(lease?.entries.map(([k, v]) => [hex(k), hex(v)]), [['0000000000000007', '08071003']]);
  for (const name of ['alarm', 'auth', 'members', 'meta']) assert.ok(file.buckets.get(name)?.inline, `${name} is inline`);
  assert.is(file.buckets.get('key')?.inline, false);
  assert.is(file.txid, 1n);
});

test('an empty store: revision 1, an empty key bucket', async () => {
  const { file, records, revision } = await dbOf(new Store());
  assert.is(revision, 1);
  assert.is(records, 0);
  assert.equal(file.buckets.get('key')?.entries, []);
  assert.is(file.pageCount, 5); // 2 meta, freelist, the key bucket's leaf, the root bucket's leaf
});

test('compaction: survivors of compacted revisions are numbered in key order; meta holds the compact revision', async () => {
  const s = new Store();
  s.apply({ type: 'txn', request: { compare: [], success: [put('y', '1'), put('x', '1')], failure: [] } }); // 1 (etcd 2): y, x
  s.apply(put('q', '1')); // 2
  s.apply(put('q', '2')); // 3
  s.apply(put('gone', '1')); // 4
  s.apply({ type: 'delete', request: { range: { key: 'gone' } } }); // 5
  s.apply({ type: 'txn', request: { compare: [], success: [put('m', '1'), put('l', '1')], failure: [] } }); // 6: m, l
  s.apply({ type: 'compact', revision: 5 });
  const { file } = await dbOf(s);
  assert.equal(
    keyRows(file).map(([main, sub, tomb, kv]) => [main, sub, tomb, kv.key]),
    [
      [2, 0, false, 'x'],
      [2, 1, false, 'y'],
      [4, 0, false, 'q'],
      [7, 0, false, 'm'],
      [7, 1, false, 'l'],
    ],
  );
  const compacted = hex(revisionKey(6, 0, false));
  assert.equal(
    file.buckets.get('meta')?.entries.map(([k, v]) => [Buffer.from(k).toString(), hex(v)]),
    [
      ['consistent_index', '000000000000002a'],
      ['finishedCompactRev', compacted],
      ['scheduledCompactRev', compacted],
    ],
  );
});

test('many keys and large values: branch levels, overflow pages, a lease bucket of its own pages', async () => {
  const s = new Store();
  for (let id = 1; id <= 300; id++) s.apply({ type: 'leaseGrant', id, ttlMs: 60_000 });
  const big = 'v'.repeat(20_000);
  for (let i = 0; i < 60_000; i++) s.apply(put(`key-${i % 20_000}`, i % 5_000 === 0 ? big : `value-${i}`, i % 7 === 0 ? 1 + (i % 300) : 0));
  const { file, records } = await dbOf(s);
  assert.is(records, 60_000);
  const key = file.buckets.get('key');
  assert.ok(key !== undefined && key.depth >= 3, `depth ${key?.depth}`);
  assert.ok(file.branchPages > 10, `${file.branchPages} branch pages`);
  // 12 values of 20 KB: each leaf holding one runs into ≥ 4 overflow pages.
  assert.ok(file.overflowPages >= 12 * 4, `${file.overflowPages} overflow pages`);
  const rows = keyRows(file);
  rows.forEach(([main, sub, tomb, kv], i) => {
    assert.is(main, i + 2);
    assert.is(sub, 0);
    assert.is(tomb, false);
    assert.is(kv.modRevision, main);
    assert.is(kv.value, i % 5_000 === 0 ? big : `value-${i}`);
    assert.is(kv.lease, i % 7 === 0 ? 1 + (i % 300) : 0);
    assert.is(kv.version, Math.floor(i / 20_000) + 1);
  });
  const lease = file.buckets.get('lease');
  assert.is(lease?.inline, false);
  assert.is(lease?.entries.length, 300);
});

test('etcdctl snapshot status reads the database', async () => {
  if (!hasEtcdctl) {
    console.log('etcdctl not installed: skipping snapshot status');
    return;
  }
  const s = new Store();
  s.apply({ type: 'leaseGrant', id: 9, ttlMs: 5000 });
  for (let i = 0; i < 5000; i++) s.apply(put(`k${i % 700}`, `v${i}`.repeat(1 + (i % 40))));
  s.apply({ type: 'delete', request: { range: { prefix: 'k1' } } });
  s.apply({ type: 'compact', revision: 2500 });
  const { bytes, records, revision } = await dbOf(s);
  const path = join(tmpdir(), `qkv-bolt-${process.pid}.db`);
  try {
    writeFileSync(path, bytes);
    const r = spawnSync('etcdctl', ['snapshot', 'status', path, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { revision: number; totalKey: number; totalSize: number };
    assert.is(status.revision, revision);
    // etcd counts the entries of every bucket: the records, consistent_index, the two compaction marks, the lease.
    assert.is(status.totalKey, records + 4);
    assert.is(status.totalSize, bytes.length);
  } finally {
    rmSync(path, { force: true });
  }
});

test.run();
