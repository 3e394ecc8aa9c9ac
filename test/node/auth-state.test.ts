// Proves the replicated auth state (src/node/auth/auth-state.ts) follows etcd 3.4's rules — the
// root user and role for `enable`, root protected while enabled, duplicate grants ignored, each
// refusal a typed AuthError that changes nothing — and is deterministic and durable: two
// AppliedStates fed the same seeded random log of auth commands (through the real entry envelope
// and codec) end byte-identical, the state survives a snapshot encode/decode and install, a
// snapshot without an auth section (as written before auth existed) opens with auth empty, a
// write guarded by the auth revision it was checked at is refused once auth changed, and
// malformed auth command bytes are answered with an error, never a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AuthError, QuorumError } from '../../src/errors.ts';
import { AppliedState } from '../../src/node/applied-state.ts';
import { authRecordToWire, encodeAuthCommand, encodeGuarded, AUTH_COMMAND_TAG, AUTH_GUARD_TAG } from '../../src/node/auth/auth-codec.ts';
import { AuthState } from '../../src/node/auth/auth-state.ts';
import { hashPassword, verifyPassword } from '../../src/node/auth/password.ts';
import type { AuthCommand, PermissionType } from '../../src/node/auth/types.ts';
import { encodeAppSnapshot, encodeEnvelope } from '../../src/node/codec.ts';
import { EMPTY_SNAPSHOT } from '../../src/protocol/types.ts';
import type { Entry, Snapshot } from '../../src/protocol/types.ts';
import { encodeCommand } from '../../src/store/codec.ts';
import { Store } from '../../src/store/store.ts';
import { seededRandom } from '../helpers/random.ts';

const b = (s: string): Uint8Array => Buffer.from(s);
const NONE = new Uint8Array(0);

function refused(state: AuthState, cmd: AuthCommand, reason: string): void {
  const before = JSON.stringify(authRecordToWire(state.toRecord()));
  try {
    state.apply(cmd);
    assert.unreachable(`${cmd.type} should be refused with ${reason}`);
  } catch (err) {
    assert.instance(err, AuthError);
    assert.is((err as AuthError).reason, reason, `${cmd.type}: ${(err as Error).message}`);
  }
  assert.is(JSON.stringify(authRecordToWire(state.toRecord())), before, `a refused ${cmd.type} changes nothing`);
}

test('enable needs root with the root role; root is protected while enabled', () => {
  const s = new AuthState();
  refused(s, { type: 'enable' }, 'rootUserMissing');
  s.apply({ type: 'userAdd', name: 'root', passwordHash: undefined });
  refused(s, { type: 'enable' }, 'rootRoleMissing');
  // The root role need not exist as a role to be granted.
  s.apply({ type: 'userGrant', name: 'root', role: 'root' });
  const rev = s.apply({ type: 'enable' }).revision;
  assert.ok(s.enabled);
  assert.is(s.apply({ type: 'enable' }).revision, rev, 'enabling twice changes nothing');
  refused(s, { type: 'userDelete', name: 'root' }, 'invalidManagement');
  refused(s, { type: 'userRevoke', name: 'root', role: 'root' }, 'invalidManagement');
  s.apply({ type: 'roleAdd', name: 'root' });
  refused(s, { type: 'roleDelete', name: 'root' }, 'invalidManagement');
  assert.ok(s.isRoot('root'));
  assert.ok(s.permissionsOf('root')?.allows('write', b('anything')));
  s.apply({ type: 'disable' });
  assert.not.ok(s.enabled);
  s.apply({ type: 'userRevoke', name: 'root', role: 'root' });
  s.apply({ type: 'userDelete', name: 'root' });
  assert.is(s.user('root'), undefined);
});

test('users, roles and permissions: etcd errors and ordering', () => {
  const s = new AuthState();
  refused(s, { type: 'userAdd', name: '', passwordHash: undefined }, 'userEmpty');
  refused(s, { type: 'roleAdd', name: '' }, 'roleEmpty');
  s.apply({ type: 'userAdd', name: 'u', passwordHash: undefined });
  refused(s, { type: 'userAdd', name: 'u', passwordHash: undefined }, 'userExists');
  refused(s, { type: 'userGrant', name: 'u', role: 'r' }, 'roleNotFound');
  refused(s, { type: 'userGrant', name: 'nobody', role: 'root' }, 'userNotFound');
  s.apply({ type: 'roleAdd', name: 'r' });
  refused(s, { type: 'roleAdd', name: 'r' }, 'roleExists');
  s.apply({ type: 'roleAdd', name: 'a' });
  const rev = s.apply({ type: 'userGrant', name: 'u', role: 'r' }).revision;
  assert.is(s.apply({ type: 'userGrant', name: 'u', role: 'r' }).revision, rev, 'a duplicate grant is ignored');
  s.apply({ type: 'userGrant', name: 'u', role: 'a' });
  assert.equal(s.user('u')?.roles, ['a', 'r'], 'roles sorted');
  refused(s, { type: 'userRevoke', name: 'u', role: 'zzz' }, 'roleNotGranted');
  const grant = (type: PermissionType, key: string, end: string): AuthCommand => ({ type: 'roleGrant', name: 'r', permission: { type, key: b(key), rangeEnd: b(end) } });
  s.apply(grant('read', 'foo', 'fop'));
  s.apply(grant('write', 'bar', ''));
  s.apply(grant('readwrite', 'foo', 'fop')); // Same key and end: the type is updated.
  assert.equal(s.role('r')?.permissions.map((p) => [p.type, Buffer.from(p.key).toString()]), [['write', 'bar'], ['readwrite', 'foo']]);
  assert.ok(s.permissionsOf('u')?.allows('write', b('foo1')), 'the permission cache sees the update');
  refused(s, { type: 'roleRevoke', name: 'r', key: b('foo'), rangeEnd: NONE }, 'permissionNotGranted');
  s.apply({ type: 'roleRevoke', name: 'r', key: b('foo'), rangeEnd: b('fop') });
  assert.not.ok(s.permissionsOf('u')?.allows('read', b('foo1')));
  s.apply({ type: 'roleDelete', name: 'r' });
  assert.equal(s.user('u')?.roles, ['a'], 'a deleted role leaves its users');
  refused(s, { type: 'userPassword', name: 'nobody', passwordHash: 'x' }, 'userNotFound');
  refused(s, { type: 'userAdd', name: 'x'.repeat(257), passwordHash: undefined }, 'limit');
  assert.equal(s.userNames(), ['u']);
  assert.equal(s.roleNames(), ['a']);
});

test('passwords: scrypt with a random salt, verified in constant time', async () => {
  const h1 = await hashPassword('secret');
  const h2 = await hashPassword('secret');
  assert.is.not(h1, h2, 'a random salt per hash');
  assert.not.ok(h1.includes('secret'));
  assert.ok(await verifyPassword('secret', h1));
  assert.not.ok(await verifyPassword('Secret', h1));
  assert.not.ok(await verifyPassword('secret', 'scrypt$1024$8$1$AAAA$AAAA'), 'a malformed hash verifies nothing');
});

const LIMITS = {};
let seq = 0;
function entry(index: number, command: Uint8Array): Entry {
  seq += 1;
  return { term: 1, index, type: 'normal', data: encodeEnvelope({ id: { member: 'n1', incarnation: 1, seq }, command }) } as Entry;
}

function randomCommands(seed: number, n: number, hashes: readonly string[]): AuthCommand[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const names = ['root', 'alice', 'bob', 'carol'];
  const roles = ['root', 'r1', 'r2', 'r3'];
  const keys = ['', 'a', 'foo', 'fop', '\0'];
  const out: AuthCommand[] = [];
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(random() * 11);
    const name = pick(names);
    const role = pick(roles);
    const key = b(pick(keys));
    const rangeEnd = b(pick(keys));
    const cmds: AuthCommand[] = [
      { type: 'enable' },
      { type: 'disable' },
      { type: 'userAdd', name, passwordHash: random() < 0.5 ? undefined : pick(hashes) },
      { type: 'userDelete', name },
      { type: 'userPassword', name, passwordHash: pick(hashes) },
      { type: 'userGrant', name, role },
      { type: 'userRevoke', name, role },
      { type: 'roleAdd', name: role },
      { type: 'roleDelete', name: role },
      { type: 'roleGrant', name: role, permission: { type: pick(['read', 'write', 'readwrite'] as const), key, rangeEnd } },
      { type: 'roleRevoke', name: role, key, rangeEnd },
    ];
    out.push(cmds[kind]!);
  }
  return out;
}

test('apply is deterministic; the state survives snapshot encode, open and install', async () => {
  const seed = Number(process.env['QKV_SEED'] ?? 99);
  const hashes = [await hashPassword('p1'), await hashPassword('p2')];
  const commands = randomCommands(seed, 400, hashes);
  const a = new AppliedState(LIMITS, 1000, EMPTY_SNAPSHOT);
  const c = new AppliedState(LIMITS, 1000, EMPTY_SNAPSHOT);
  let refusals = 0;
  let index = 0;
  for (const cmd of commands) {
    index += 1;
    const e = entry(index, encodeAuthCommand(cmd));
    const ra = a.apply(e, () => {});
    const rc = c.apply(e, () => {});
    assert.equal(ra?.result instanceof QuorumError ? ra.result.message : ra?.result, rc?.result instanceof QuorumError ? rc.result.message : rc?.result);
    if (ra?.result instanceof QuorumError) refusals++;
    // A store write between auth commands: both kinds share the log.
    if (index % 50 === 0) {
      index += 1;
      const w = entry(index, encodeCommand({ type: 'put', request: { key: `k${index}`, value: b('v') } }));
      a.apply(w, () => {});
      c.apply(w, () => {});
    }
  }
  assert.ok(refusals > 0 && refusals < commands.length, `seed ${seed}: ${refusals} refusals (QKV_SEED=${seed} node --import tsx test/node/auth-state.test.ts)`);
  assert.ok(a.auth.revision > 10, `revision ${a.auth.revision}`);
  const bytesA = await a.view().encode();
  const bytesC = await c.view().encode();
  assert.ok(Buffer.from(bytesA).equals(Buffer.from(bytesC)), `seed ${seed}: the two members' snapshots differ`);
  const snap: Snapshot = { meta: { index, term: 1, confState: { voters: ['n1'], learners: [] } }, data: bytesA };
  const opened = await AppliedState.open(LIMITS, 1000, snap);
  assert.equal(authRecordToWire(opened.auth.toRecord()), authRecordToWire(a.auth.toRecord()));
  const installed = new AppliedState(LIMITS, 1000, EMPTY_SNAPSHOT);
  installed.apply(entry(1, encodeAuthCommand({ type: 'roleAdd', name: 'stale' })), () => {});
  await installed.install(snap);
  assert.equal(authRecordToWire(installed.auth.toRecord()), authRecordToWire(a.auth.toRecord()));
  assert.ok(Buffer.from(await installed.view().encode()).equals(Buffer.from(bytesA)), 're-encoded snapshot is identical');
});

test('a snapshot without an auth section opens with auth empty; pristine auth writes none', async () => {
  const store = new Store({});
  const old = encodeAppSnapshot({ store: await store.snapshot().encode(), members: { n1: '' }, dedupe: [] });
  const snap: Snapshot = { meta: { index: 5, term: 1, confState: { voters: ['n1'], learners: [] } }, data: old };
  const state = await AppliedState.open(LIMITS, 1000, snap);
  assert.ok(state.auth.pristine);
  assert.not.ok(state.auth.enabled);
  const again = Buffer.from(await state.view().encode());
  assert.not.ok(again.includes(Buffer.from('epoch')), 'no auth section while auth was never used');
});

test('a guarded write applies only while auth is disabled or unchanged since its check', () => {
  const state = new AppliedState(LIMITS, 1000, EMPTY_SNAPSHOT);
  let index = 0;
  const apply = (bytes: Uint8Array): unknown => state.apply(entry(++index, bytes), () => {})?.result;
  const put = (key: string): Uint8Array => encodeCommand({ type: 'put', request: { key, value: b('v') } });
  for (const cmd of [{ type: 'userAdd', name: 'root', passwordHash: undefined }, { type: 'userGrant', name: 'root', role: 'root' }] as AuthCommand[]) apply(encodeAuthCommand(cmd));
  const beforeEnable = state.auth.revision;
  assert.not.instance(apply(encodeGuarded(1, put('disabled'))), QuorumError, 'auth disabled: an old revision does not matter');
  apply(encodeAuthCommand({ type: 'enable' }));
  const refused = apply(encodeGuarded(beforeEnable, put('late')));
  assert.instance(refused, AuthError, 'checked before enable, applied after');
  assert.is((refused as AuthError).reason, 'oldRevision');
  assert.not.instance(apply(encodeGuarded(state.auth.revision, put('fresh'))), QuorumError);
  const at = state.auth.revision;
  apply(encodeAuthCommand({ type: 'roleAdd', name: 'r' }));
  assert.instance(apply(encodeGuarded(at, encodeAuthCommand({ type: 'roleAdd', name: 's' }))), AuthError, 'a guarded auth command too');
  assert.equal(state.auth.roleNames(), ['r']);
  assert.equal(state.store.range({ start: '' }).kvs.map((kv) => kv.key), ['disabled', 'fresh']);
});

test('malformed auth command bytes are an error result, not a crash', () => {
  const state = new AppliedState(LIMITS, 1000, EMPTY_SNAPSHOT);
  const bad = [Uint8Array.of(AUTH_GUARD_TAG, 1, 2), encodeGuarded(1, Uint8Array.of(0xc1)), Uint8Array.of(AUTH_COMMAND_TAG), Uint8Array.of(AUTH_COMMAND_TAG, 0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa1, 0x78), encodeAuthCommand({ type: 'userAdd', name: 'x', passwordHash: 'not-a-hash' })];
  let index = 0;
  for (const bytes of bad) {
    const r = state.apply(entry(++index, bytes), () => {});
    assert.instance(r?.result, QuorumError, `bytes ${Buffer.from(bytes).toString('hex')}`);
  }
  assert.ok(state.auth.pristine);
});

test.run();
