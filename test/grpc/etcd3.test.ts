// The `etcd3` npm client (grpc-js) against three standalone `quorumkv member` processes: kv,
// the txn builder (if/then/else), range reads, watches (put/delete, prev kv), leases (grant,
// attached keys, keepalive, revoke), namespaces, and its client-side lock and election recipes
// (built on KV, leases and watches).
import { Etcd3, EtcdLockFailedError } from 'etcd3';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../cli/helpers.ts';
import { hasEtcdctl, startProcessCluster } from './helpers.ts';
import type { ProcessCluster } from './helpers.ts';

let c: ProcessCluster;
let client: Etcd3;

if (!hasEtcdctl) {
  console.log('etcdctl not installed: skipping the etcd3 client tests (the cluster helper waits with etcdctl)');
} else {
  test.before(async () => {
    c = await startProcessCluster('grpc-etcd3');
    client = new Etcd3({ hosts: c.members.map((m) => m.clientUrl) });
  });
  test.after(async () => {
    client?.close();
    await c?.stop();
  });

  test('put, get, getAll with prefix/keys/limit/sort, delete', async () => {
    await client.put('e3/a').value('1');
    await client.put('e3/b').value('2');
    await client.put('e3/c').value('3');
    assert.is(await client.get('e3/b').string(), '2');
    assert.is(await client.get('e3/none').string(), null);
    assert.equal(await client.getAll().prefix('e3/').keys(), ['e3/a', 'e3/b', 'e3/c']);
    assert.equal(await client.getAll().prefix('e3/').sort('Key', 'Descend').limit(2).strings(), { 'e3/c': '3', 'e3/b': '2' });
    assert.is(await client.getAll().prefix('e3/').count(), 3);
    const res = await client.delete().key('e3/a').getPrevious();
    assert.is(res[0]?.value.toString(), '1');
    assert.is(await client.delete().prefix('e3/').then((r) => r.deleted), '2');
  });

  test('txn builder: if/then/else with nested reads', async () => {
    await client.put('tx3/k').value('v');
    const yes = await client.if('tx3/k', 'Value', '==', 'v').then(client.put('tx3/r').value('yes')).else(client.put('tx3/r').value('no')).commit();
    assert.is(yes.succeeded, true);
    const no = await client.if('tx3/k', 'Version', '>', 5).then(client.put('tx3/r').value('yes')).else(client.get('tx3/r')).commit();
    assert.is(no.succeeded, false);
    assert.is(no.responses[0]?.response_range?.kvs[0]?.value.toString(), 'yes');
    const absent = await client.if('tx3/absent', 'Create', '==', 0).then(client.put('tx3/absent').value('x')).commit();
    assert.is(absent.succeeded, true);
  });

  test('watch: puts and deletes with prev kv, from a past revision', async () => {
    const put = await client.put('wt3/k').value('first').exec();
    const rev = Number(put.header.revision);
    const watcher = await client.watch().key('wt3/k').startRevision(String(rev)).withPreviousKV().create();
    const seen: string[] = [];
    watcher.on('put', (kv, prev) => seen.push(`put ${kv.value.toString()}${prev == null ? '' : ` prev ${prev.value.toString()}`}`));
    watcher.on('delete', (kv, prev) => seen.push(`delete ${kv.key.toString()}${prev == null ? '' : ` prev ${prev.value.toString()}`}`));
    await client.put('wt3/k').value('second');
    await client.delete().key('wt3/k');
    await waitFor('three events', async () => (seen.length >= 3 ? true : undefined), 10_000, 50);
    assert.equal(seen, ['put first', 'put second prev first', 'delete wt3/k prev second']);
    await watcher.cancel();
  });

  test('leases: grant, put on the lease, keepalive, revoke deletes the keys', async () => {
    const lease = client.lease(30);
    const id = await lease.grant();
    assert.match(id, /^\d+$/);
    await lease.put('ls3/k').value('v');
    const ka = await lease.keepaliveOnce();
    assert.ok(Number(ka.TTL) > 0);
    assert.is(await client.get('ls3/k').string(), 'v');
    await lease.revoke();
    assert.is(await client.get('ls3/k').string(), null);
  });

  test('namespace, lock and election recipes of the client', async () => {
    const ns = client.namespace('ns3/');
    await ns.put('k').value('v');
    assert.is(await client.get('ns3/k').string(), 'v');
    const lock = client.lock('lk3');
    await lock.acquire();
    // etcd3's lock does not queue: a second acquire fails while the first is held.
    const failed = await client.lock('lk3').acquire().then(() => false, (err: unknown) => err instanceof EtcdLockFailedError);
    assert.ok(failed, 'the second acquire fails while the lock is held');
    await lock.release();
    const again = client.lock('lk3');
    await again.acquire();
    await again.release();
    const election = client.election('el3');
    const campaign = election.campaign('cand-1');
    await campaign.wait();
    assert.is(await election.leader(), 'cand-1');
    await campaign.resign();
  });

  test.run();
}
