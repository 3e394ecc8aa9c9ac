// Proves the CLI's pure pieces: v2 key normalization and the directory/prefix mapping, etcd's
// prefix range end, the exact etcdctl v2 error line and JSON, endpoint error bodies turned into
// CLI errors, and member config validation (flags → node options, plus the plaintext warning for
// a non-loopback http client URL) — no network, no processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorFromBody } from '../../src/cli/client.ts';
import { parseInitialCluster } from '../../src/cli/commands/maintenance.ts';
import { CliError, EXIT_BAD_AUTH, EXIT_SERVER_ERROR } from '../../src/cli/errors.ts';
import { normalizeKey } from '../../src/cli/keys.ts';
import { ancestors, childPrefix, dirMarker, prefixEnd } from '../../src/v2/keyspace.ts';
import { planMember } from '../../src/cli/member.ts';
import { renderTable } from '../../src/cli/output.ts';

test('keys normalize like etcd v2 paths', () => {
  assert.is(normalizeKey('testdir2'), '/testdir2');
  assert.is(normalizeKey('/testdir//testkey/'), '/testdir/testkey');
  assert.is(normalizeKey(''), '/');
  assert.is(dirMarker('/a'), '/a/');
  assert.is(childPrefix('/'), '/');
  assert.equal(ancestors('/a/b/c'), ['/a/b', '/a']);
  assert.equal(ancestors('/a'), []);
});

test('prefixEnd is the first key past the prefix', () => {
  assert.is(prefixEnd('/a/'), '/a0');
  assert.is(prefixEnd('foo'), 'fop');
  assert.is(prefixEnd(''), '\0');
  assert.ok('/a/zzz' < prefixEnd('/a/'));
  assert.ok('/a-b' < '/a/');
});

test('errors print exactly as etcdctl v2', () => {
  assert.is(CliError.v2(100, '/testdir/testkey2', 5).line(), 'Error:  100: Key not found (/testdir/testkey2) [5]');
  assert.is(CliError.v2(105, '/testdir/testkey', 8).line(), 'Error:  105: Key already exists (/testdir/testkey) [8]');
  assert.is(CliError.v2(108, '/dir', 17).line(), 'Error:  108: Directory not empty (/dir) [17]');
  assert.equal(CliError.v2(100, '/a', 3).json(), { message: 'Key not found', errorCode: 100, cause: '/a', index: 3 });
  assert.is(new CliError('cluster is unavailable', 2).line(), 'Error:  cluster is unavailable');
});

test('endpoint error bodies become CLI errors with v2 numbers and exit codes', () => {
  const notFound = errorFromBody(404, { error: 'x', code: 'KEY_NOT_FOUND', message: 'mvcc: key not found (/a/b)', errorCode: 100, index: 7 });
  assert.is(notFound.line(), 'Error:  100: Key not found (/a/b) [7]');
  assert.is(notFound.exitCode, EXIT_SERVER_ERROR);
  const auth = errorFromBody(401, { code: 'UNAUTHENTICATED', message: 'gateway: missing or wrong bearer token' });
  assert.is(auth.exitCode, EXIT_BAD_AUTH);
  assert.is(auth.line(), 'Error:  gateway: missing or wrong bearer token (UNAUTHENTICATED)');
});

test('member flags are validated into node options', () => {
  const base = {
    name: 'n1',
    listenPeerUrl: 'ws://127.0.0.1:2380',
    initialClusterState: 'new',
    listenClientUrl: 'http://127.0.0.1:2379',
    heartbeatInterval: '100',
    electionTimeout: '1000',
    snapshotCount: '10000',
  };
  const plan = planMember({ ...base, initialCluster: 'n1=ws://127.0.0.1:2380,n2=ws://127.0.0.1:2381' });
  assert.equal(plan.node.peers, { n1: 'ws://127.0.0.1:2380', n2: 'ws://127.0.0.1:2381' });
  assert.is(plan.node.dataDir, 'n1.quorumkv');
  assert.is(plan.node.electionTimeoutMs, 1000);
  assert.is(plan.client.port, 2379);
  assert.throws(() => planMember({ ...base, initialCluster: 'n2=ws://127.0.0.1:2381' }), /must include this member/);
  assert.throws(() => planMember({ ...base, listenPeerUrl: 'ftp://127.0.0.1:2380' }), /--listen-peer-url/);
  // etcd's http(s):// peer URLs (what etcdctl member add insists on) are read as ws(s)://.
  const etcdStyle = planMember({ ...base, listenPeerUrl: 'http://127.0.0.1:2380', initialCluster: 'n1=http://127.0.0.1:2380,n2=https://h:2381' });
  assert.equal(etcdStyle.node.peers, { n1: 'ws://127.0.0.1:2380', n2: 'wss://h:2381' });
  assert.is(etcdStyle.summary['listenPeerUrl'], 'ws://127.0.0.1:2380');
  assert.is(plan.node.name, 'n1');
  assert.throws(() => planMember({ ...base, heartbeatInterval: 'fast' }), /--heartbeat-interval/);
  assert.throws(() => planMember({ ...base, listenClientUrl: 'https://127.0.0.1:2379' }), /--cert-file/);
  assert.throws(() => parseInitialCluster('n1'), /name=ws/);
  // etcdctl member add prints a not yet started member without a name.
  assert.equal(parseInitialCluster('=ws://127.0.0.1:2382,n1=ws://127.0.0.1:2380'), { '': 'ws://127.0.0.1:2382', n1: 'ws://127.0.0.1:2380' });
});

test('a member warns about plaintext client traffic on a non-loopback address', () => {
  const base = {
    name: 'n1',
    listenPeerUrl: 'ws://127.0.0.1:2380',
    initialClusterState: 'new',
    heartbeatInterval: '100',
    electionTimeout: '1000',
    snapshotCount: '10000',
  };
  assert.equal(planMember({ ...base, listenClientUrl: 'http://127.0.0.1:2379' }).warnings, []);
  assert.equal(planMember({ ...base, listenClientUrl: 'http://[::1]:2379' }).warnings, []);
  const open = planMember({ ...base, listenClientUrl: 'http://0.0.0.0:2379', clientToken: 't' }).warnings;
  assert.is(open.length, 1);
  assert.match(open[0] ?? '', /plaintext client traffic on non-loopback http:\/\/0\.0\.0\.0:2379: requests and the client token/);
});

test('tables are aligned', () => {
  assert.is(renderTable({ header: ['KEY', 'DIR'], rows: [['/a', 'true']] }), '+-----+------+\n| KEY | DIR  |\n+-----+------+\n| /a  | true |\n+-----+------+');
});

test.run();
