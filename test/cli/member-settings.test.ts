// Proves, in-process, how the member's settings resolve and how its logger writes: a flag beats
// the environment, which beats the config file, which beats the default; QUORUMKV_* beats ETCD_*;
// an etcd URL list must hold exactly one URL; a token comes from its file; and the logger writes
// one JSON object per line (level names, the member, secrets redacted) or one text line, dropping
// what is below its level.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveMemberFlags } from '../../src/cli/member-config.ts';
import { createMemberLogger } from '../../src/cli/member-logger.ts';

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
