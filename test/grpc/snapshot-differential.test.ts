// The same etcdctl session (puts, a leased put, deletes of a key and of a prefix, a multi-key txn
// with a delete, a compaction, more puts) against Debian's real etcd and a quorumkv member, then
// `etcdctl snapshot save` from both: the two `key` buckets hold the same records — revision keys
// (main, sub, tombstone mark) and KeyValue fields — lease ids aside (each side picks its own), the
// compaction marks in `meta` are byte for byte etcd's, and `snapshot status` prints the same
// revision. Skipped when etcd is not installed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, removeDir, startMember, tempDir } from '../cli/helpers.ts';
import type { MemberProcess } from '../cli/helpers.ts';
import { readBolt } from '../helpers/bolt-reader.ts';
import type { BoltFile } from '../helpers/bolt-reader.ts';
import { ProtoReader, readFields } from '../../src/grpc/wire.ts';
import { hasEtcd, startEtcd } from './etcd-process.ts';
import type { EtcdProcess } from './etcd-process.ts';
import { etcdctl } from './helpers.ts';

const dir = tempDir('grpc-snapshot-diff');
let etcd: EtcdProcess | undefined;
let member: MemberProcess | undefined;

async function ok(ep: string, args: string[], stdin?: string): Promise<string> {
  const r = await etcdctl(ep, args, stdin === undefined ? {} : { stdin });
  assert.is(r.code, 0, `etcdctl ${args.join(' ')} on ${ep}: ${r.err}`);
  return r.out;
}

/** The session, run on one endpoint; returns the revision it compacted at. */
async function session(ep: string): Promise<void> {
  const lease = /lease ([0-9a-f]+) granted/.exec(await ok(ep, ['lease', 'grant', '600']))?.[1];
  assert.ok(lease);
  for (let i = 0; i < 30; i++) await ok(ep, ['put', `d/${i % 7}`, `value-${i}`]);
  await ok(ep, ['put', 'd/leased', 'x', '--lease', lease as string]);
  await ok(ep, ['del', 'd/2']);
  await ok(ep, ['del', 'd/5', '--prefix']);
  await ok(ep, ['compaction', '20']);
  await ok(ep, ['txn'], '\nput d/t2 two\nput d/t1 one\ndel d/0\n\n\n');
  for (let i = 0; i < 5; i++) await ok(ep, ['put', `d/${i}`, `again-${i}`]);
}

/** The key bucket as comparable rows: revision key fields, then the KeyValue's fields (lease as present or not). */
function keyRows(db: BoltFile): string[] {
  return (db.buckets.get('key')?.entries ?? []).map(([k, v]) => {
    const key = Buffer.from(k);
    const fields: string[] = [];
    const r = new ProtoReader(v);
    readFields(r, (field, wire) => {
      if (wire === 2) fields.push(`${field}=${Buffer.from(r.bytes()).toString()}`);
      else {
        // etcd's lease ids are random 63-bit numbers: read as bigint, compared as present only.
        const n = r.uint64();
        fields.push(field === 6 ? 'lease' : `${field}=${n}`);
      }
      return true;
    });
    return `${key.readBigUInt64BE(0)}_${key.readBigUInt64BE(9)}${key.length === 18 ? 't' : ''} ${fields.join(' ')}`;
  });
}

async function saved(ep: string, name: string): Promise<{ db: BoltFile; revision: number }> {
  const file = join(dir, `${name}.db`);
  await ok(ep, ['snapshot', 'save', file]);
  const bytes = readFileSync(file);
  const status = JSON.parse(await ok(ep, ['snapshot', 'status', file, '-w', 'json'])) as { revision: number };
  return { db: readBolt(bytes.subarray(0, bytes.length - 32)), revision: status.revision };
}

if (!hasEtcd) {
  console.log('etcd or etcdctl not installed: skipping the snapshot differential test');
} else {
  test.before(async () => {
    const [mp, mcp] = [await freePort(), await freePort()];
    member = startMember({ name: 'q', peerPort: mp, clientPort: mcp, dataDir: join(dir, 'q') });
    etcd = await startEtcd('ref', join(dir, 'etcd'));
    const qkvEp = `127.0.0.1:${mcp}`;
    for (let i = 0; i < 100 && (await etcdctl(qkvEp, ['endpoint', 'health'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
  });
  test.after(async () => {
    await etcd?.stop();
    await member?.stop();
    removeDir(dir);
  });

  test('the same session gives the same key bucket, compaction marks and revision', async () => {
    const etcdEp = (etcd as EtcdProcess).endpoint;
    const qkvEp = (member as MemberProcess).clientUrl.replace(/^http:\/\//, '');
    await session(etcdEp);
    await session(qkvEp);
    const [want, got] = [await saved(etcdEp, 'etcd'), await saved(qkvEp, 'quorumkv')];
    assert.is(got.revision, want.revision);
    const rows = keyRows(got.db);
    if (process.env['QKV_TEST_LOG'] === '1') console.log(rows.join('\n'), '\n---\n', keyRows(want.db).join('\n'));
    assert.ok(rows.some((r) => r.endsWith('t 1=d/0')), 'a tombstone of the txn is compared');
    assert.ok(rows.some((r) => r.includes(' lease')), 'a leased record is compared');
    assert.equal(rows, keyRows(want.db));
    const marks = (db: BoltFile): string[] => (db.buckets.get('meta')?.entries ?? []).filter(([k]) => Buffer.from(k).toString().endsWith('CompactRev')).map(([k, v]) => `${Buffer.from(k).toString()}=${Buffer.from(v).toString('hex')}`);
    assert.equal(marks(got.db), marks(want.db));
    assert.is(marks(got.db).length, 2);
  });
}

test.run();
