// Differential: the same etcdctl session against a real etcd (Debian's etcd-server) and a
// standalone quorumkv member, compared output for output — revisions included (both number an
// empty store 1), kvs, txn results, watch replays, and etcd's error texts. Skipped when etcd or
// etcdctl is not installed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../cli/helpers.ts';
import { etcdctl, etcdctlProcess, hasEtcd, normalizedJson, startReferencePair } from './helpers.ts';
import type { ReferencePair } from './helpers.ts';

let etcdEp = '';
let qkvEp = '';

/** Output of one command on both servers; the error text without etcdctl's log lines. */
async function both(args: string[], stdin?: string): Promise<[string, string]> {
  const run = async (ep: string): Promise<string> => {
    const r = await etcdctl(ep, args, stdin === undefined ? {} : { stdin });
    const errLine = r.err.split('\n').filter((l) => l.startsWith('Error:')).join('\n');
    return `${r.code}\n${r.out}${errLine}`;
  };
  return [await run(etcdEp), await run(qkvEp)];
}

async function same(args: string[], stdin?: string): Promise<string> {
  const [a, b] = await both(args, stdin);
  assert.is(b, a, `etcdctl ${args.join(' ')}`);
  return a;
}

async function sameJson(args: string[]): Promise<void> {
  const [a, b] = await both([...args, '-w', 'json']);
  assert.equal(normalizedJson(b), normalizedJson(a), `etcdctl ${args.join(' ')} -w json\netcd: ${a}\nquorumkv: ${b}`);
}

if (!hasEtcd) {
  console.log('etcd or etcdctl not installed: skipping the differential test (apt-get install etcd-server etcd-client)');
} else {
  let pair: ReferencePair | undefined;
  test.before(async () => {
    pair = await startReferencePair('grpc-diff');
    etcdEp = pair.etcdEp;
    qkvEp = pair.qkvEp;
  });
  test.after(async () => {
    await pair?.stop();
  });

  test('kv: the same revisions, kvs and results', async () => {
    await sameJson(['get', 'nothing']);
    await same(['put', 'a', '1']);
    await same(['put', 'b', '2']);
    await same(['put', 'a', '3', '--prev-kv']);
    await sameJson(['get', 'a']);
    await sameJson(['get', '', '--prefix']);
    await sameJson(['get', 'a', '--rev', '2']);
    await sameJson(['get', '', '--prefix', '--rev', '1']);
    await sameJson(['get', '', '--from-key', '--limit', '1', '--sort-by', 'MODIFY', '--order', 'DESCEND']);
    await sameJson(['get', 'a', 'c', '--keys-only']);
    await same(['del', 'b', '--prev-kv']);
    await sameJson(['get', '', '--prefix']);
    await same(['get', 'a', '--rev', '999']);
    await same(['put', 'c', '4', '--ignore-value']);
    await same(['lease', 'revoke', '1234abcd']);
    await same(['put', 'c', '4', '--lease', '1234abcd']);
  });

  test('txn: compares on value, version, create and mod revisions', async () => {
    await same(['txn'], 'value("a") = "3"\nmod("a") = "4"\n\nput t yes\nget a\n\nput t no\n\n');
    await same(['txn'], 'create("nope") = "0"\nversion("a") > "5"\n\nput t yes\n\ndel t\nget t\n\n');
    await sameJson(['get', 't']);
  });

  test('watch from revision 1 replays the same history', async () => {
    const outs: string[] = [];
    for (const ep of [etcdEp, qkvEp]) {
      const w = etcdctlProcess(ep, ['watch', '', '--prefix', '--rev', '1', '--prev-kv']);
      await waitFor('the replay', async () => (w.output().split('\n').length > 12 ? true : undefined), 10_000, 100).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      await w.stop();
      outs.push(w.output());
    }
    assert.ok((outs[0] ?? "").includes("PUT\na\n1\n"), outs[0]);
    assert.is(outs[1], outs[0]);
  });

  test('compaction: the same texts', async () => {
    await same(['compaction', '3']);
    await same(['get', 'a', '--rev', '2']);
    await same(['compaction', '2']);
    await sameJson(['get', 'a', '--rev', '3']);
  });

  test.run();
}
