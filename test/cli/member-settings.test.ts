// Proves, in-process, how the member's settings resolve and how its logger writes: a flag beats
// the environment, which beats the config file, which beats the default; QUORUMKV_* beats ETCD_*;
// etcd's flag names (`--listen-peer-urls`, `--advertise-client-urls`, `--initial-cluster-token`,
// `--max-request-bytes`, …) set the same settings as the env variables and file keys, an etcd
// `http://` peer URL is read as `ws://`, an unknown flag is still an error;
// an etcd URL list must hold exactly one URL; a token comes from its file; and the logger writes
// one JSON object per line (level names, the member, secrets redacted) or one text line, dropping
// what is below its level.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attributeOf, resolveMemberFlags } from '../../src/cli/member-config.ts';
import { createMemberLogger } from '../../src/cli/member-logger.ts';
import { MEMBER_SETTINGS } from '../../src/cli/member-settings.ts';
import { planMember } from '../../src/cli/member.ts';
import { runCli } from '../../src/cli/program.ts';

const dir = mkdtempSync(join(tmpdir(), 'qkv-settings-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('flag > environment > config file > default; QUORUMKV_* before ETCD_*', () => {
  const file = join(dir, 'm.yml');
  writeFileSync(file, 'name: from-file\ndata-dir: /file/dir\nsnapshot-count: 7\nheartbeat-interval: 70\nclient-transport-security:\n  cert-file: /file/cert.pem\n');
  const env = { QUORUMKV_CONFIG_FILE: file, ETCD_NAME: 'from-etcd-env', QUORUMKV_NAME: 'from-env', ETCD_DATA_DIR: '/env/dir' };
  const { flags } = resolveMemberFlags({ snapshotCount: '9' }, env);
  assert.is(flags.name, 'from-env');
  assert.is(flags.dataDir, '/env/dir');
  assert.is(flags.snapshotCount, '9', 'the flag wins');
  assert.is(flags.heartbeatInterval, '70', 'the file fills what flags and env leave');
  assert.is(flags.certFile, '/file/cert.pem', 'nested etcd keys');
  assert.is(flags.electionTimeout, '1000', 'the default last');
  assert.is(flags.listenPeerUrl, undefined, 'no peer URL: planMember takes the initial-cluster entry');
  assert.is(resolveMemberFlags({ name: 'flag' }, env).flags.name, 'flag');
});

test('an etcd URL list holds exactly one URL; a token comes from its file; a --*-token flag is reported as exposed', () => {
  assert.is(resolveMemberFlags({}, { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:1,' }).flags.listenClientUrl, 'http://127.0.0.1:1');
  assert.throws(() => resolveMemberFlags({}, { ETCD_LISTEN_CLIENT_URLS: 'http://a:1,http://b:2' }), /ETCD_LISTEN_CLIENT_URLS must be exactly one URL/);
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, '  s3cret \nsecond line\n');
  const fromFile = resolveMemberFlags({}, { QUORUMKV_CLIENT_TOKEN_FILE: tokenFile });
  assert.is(fromFile.flags.clientToken, 's3cret');
  assert.equal(fromFile.exposedSecrets, []);
  const fromFlag = resolveMemberFlags({ clientToken: 'x', peerToken: 'y' }, {});
  assert.equal(fromFlag.exposedSecrets, ['--client-token', '--peer-token']);
  assert.throws(() => resolveMemberFlags({ clientTokenFile: join(dir, 'absent') }, {}), /cannot read --client-token-file/);
});

test("etcd's flag names set the same settings; the first given of a setting's spellings wins", () => {
  const { flags } = resolveMemberFlags({
    listenPeerUrls: 'http://127.0.0.1:7001',
    initialAdvertisePeerUrls: 'http://127.0.0.1:7002',
    advertiseClientUrls: 'http://127.0.0.1:7003',
    initialClusterToken: 'etcd-cluster-1',
    maxRequestBytes: '4096',
    maxTxnOps: '16',
  }, {});
  assert.is(flags.listenPeerUrl, 'http://127.0.0.1:7001', '--listen-peer-urls before --initial-advertise-peer-urls');
  assert.is(flags.listenClientUrl, 'http://127.0.0.1:7003', '--advertise-client-urls when no listen URL is given');
  assert.is(flags.initialClusterToken, 'etcd-cluster-1');
  assert.is(resolveMemberFlags({ listenClientUrl: 'http://127.0.0.1:1', listenClientUrls: 'http://127.0.0.1:2' }, {}).flags.listenClientUrl, 'http://127.0.0.1:1', 'our own spelling first');
  assert.is(resolveMemberFlags({ listenClientUrls: 'http://127.0.0.1:2' }, { QUORUMKV_LISTEN_CLIENT_URL: 'http://127.0.0.1:3' }).flags.listenClientUrl, 'http://127.0.0.1:2', 'a flag beats the environment');
  assert.throws(() => resolveMemberFlags({ listenClientUrls: 'http://a:1,http://b:2' }, {}), /--listen-client-urls must be exactly one URL/);
  const file = join(dir, 'etcd.yml');
  writeFileSync(file, 'name: y1\ninitial-cluster-token: t\nmax-txn-ops: 32\nmax-request-bytes: 2048\n');
  const fromFile = resolveMemberFlags({}, { ETCD_CONFIG_FILE: file }).flags;
  assert.equal([fromFile.initialClusterToken, fromFile.maxTxnOps, fromFile.maxRequestBytes], ['t', '32', '2048']);
  assert.equal([resolveMemberFlags({}, { ETCD_MAX_TXN_OPS: '8', ETCD_INITIAL_CLUSTER_TOKEN: 'e' }).flags.maxTxnOps], ['8']);
  // Every setting and every spelling has an environment variable, and commander's attribute of
  // the main spelling is the setting's key.
  for (const s of MEMBER_SETTINGS) {
    assert.ok(s.env.length > 0, `${s.flag} has an environment variable`);
    assert.is(attributeOf(s.flag), s.key);
  }
});

test("planMember: etcd's http:// peer URLs are ws://; request and txn limits reach the node and the endpoint", () => {
  const { flags } = resolveMemberFlags({ name: 'p1', listenPeerUrls: 'http://127.0.0.1:7101', initialCluster: 'p1=http://127.0.0.1:7101,p2=https://127.0.0.1:7102', maxRequestBytes: '4096', maxTxnOps: '16' }, {});
  const plan = planMember(flags);
  assert.equal(plan.node.peers, { p1: 'ws://127.0.0.1:7101', p2: 'wss://127.0.0.1:7102' });
  assert.is(plan.summary['listenPeerUrl'], 'ws://127.0.0.1:7101');
  assert.is(plan.node.maxRequestBytes, 4096);
  assert.is(plan.node.maxTxnOps, 16);
  assert.is(plan.client.maxRequestBytes, 4096);
  assert.throws(() => planMember({ ...flags, maxTxnOps: 'many' }), /--max-txn-ops must be an integer >= 1, got many/);
});

test('an unknown member flag is an error (exit 1), an etcd spelling is not', async () => {
  let err = '';
  const code = await runCli(['member', '--name', 'x', '--enable-v3-magic', 'yes'], { out: () => {}, err: (t) => void (err += t) });
  assert.is(code, 1);
  assert.match(err, /unknown option '--enable-v3-magic'/);
  let help = '';
  await runCli(['member', '--help'], { out: (t) => void (help += t), err: (t) => void (help += t) });
  for (const flag of ['--listen-peer-urls', '--initial-advertise-peer-urls', '--listen-client-urls', '--advertise-client-urls', '--initial-cluster-token', '--max-request-bytes', '--max-txn-ops']) assert.ok(help.includes(flag), `--help lists ${flag}`);
});

test('json logger: one object per line, level names, bindings, secrets redacted, below-level dropped', () => {
  const lines: string[] = [];
  const log = createMemberLogger({ format: 'json', level: 'info', write: (l) => void lines.push(l) });
  const member = log.child?.({ member: 'm1' }) ?? log;
  member.debug({}, 'dropped');
  member.info({ token: 'hidden', peer: 'm2' }, 'hello');
  member.error({ err: new Error('boom') }, 'failed');
  assert.is(lines.length, 2);
  const [info, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.is(info?.['level'], 'info');
  assert.is(info?.['member'], 'm1');
  assert.is(info?.['msg'], 'hello');
  assert.is(info?.['token'], '[redacted]');
  assert.is((error?.['err'] as Record<string, unknown>)['message'], 'boom');
  assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
});

test('text logger: one line per record with its fields, secrets redacted', () => {
  const lines: string[] = [];
  const log = createMemberLogger({ format: 'text', level: 'warn', write: (l) => void lines.push(l) });
  const member = log.child?.({ member: 'm1' }) ?? log;
  member.info({}, 'dropped');
  member.warn({ clientToken: 'hidden', err: new Error('boom') }, 'careful');
  assert.is(lines.length, 1);
  assert.match(lines[0] ?? '', /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN careful \{"member":"m1","clientToken":"\[redacted\]","err":"boom"\}\n$/);
});

test.run();
