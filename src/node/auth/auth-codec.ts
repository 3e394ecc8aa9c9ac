/**
 * Auth commands in the log and the auth state in snapshots. A command is the tag byte
 * {@link AUTH_COMMAND_TAG} followed by msgpack (no store command starts with that byte: they are
 * msgpack maps or the binary put). Decoding validates every field, so bad bytes become an
 * InvalidArgumentError answered to the proposer, never a crash inside apply.
 */
import { InvalidArgumentError } from '../../errors.ts';
import { pack, unpack } from '../codec.ts';
import type { AuthRecord } from './auth-state.ts';
import { isPasswordHash } from './password.ts';
import type { AuthCommand, AuthRole, AuthUser, Permission, PermissionType } from './types.ts';

/** First byte of an auth command: msgpack's `false`, which no store command is. */
export const AUTH_COMMAND_TAG = 0xc2;

const PERMISSION_TYPES: readonly PermissionType[] = ['read', 'write', 'readwrite'];

/**
 * First byte of a store command guarded by an auth revision: `0xc3 | revision (f64 BE) | store
 * command`. msgpack's `true`, which no store command is either.
 */
export const AUTH_GUARD_TAG = 0xc3;

// Scratch space for the revision's f64: on every guarded write, so no DataView per command and no
// `.buffer` access on small on-heap typed arrays (which would move them off-heap).
const f64Bytes = new Uint8Array(8);
const f64View = new DataView(f64Bytes.buffer);

/** `command` to apply only while auth is disabled or still at `revision`. */
export function encodeGuarded(revision: number, command: Uint8Array): Uint8Array {
  // Every byte is written below; small commands come from Node's shared pool.
  const out = Buffer.allocUnsafe(9 + command.length);
  out[0] = AUTH_GUARD_TAG;
  f64View.setFloat64(0, revision);
  out.set(f64Bytes, 1);
  out.set(command, 9);
  return out;
}

export function isGuarded(bytes: Uint8Array): boolean {
  return bytes[0] === AUTH_GUARD_TAG;
}

export function decodeGuarded(bytes: Uint8Array): { readonly revision: number; readonly command: Uint8Array } {
  if (bytes.length < 10 || bytes[0] !== AUTH_GUARD_TAG) bad('guarded command');
  for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[1 + i]!;
  const revision = f64View.getFloat64(0);
  if (!Number.isSafeInteger(revision) || revision < 1) bad('guarded command revision');
  return { revision, command: bytes.subarray(9) };
}

export function isAuthCommand(bytes: Uint8Array): boolean {
  return bytes[0] === AUTH_COMMAND_TAG;
}

export function encodeAuthCommand(cmd: AuthCommand): Uint8Array {
  const body = pack(cmd);
  const out = new Uint8Array(body.length + 1);
  out[0] = AUTH_COMMAND_TAG;
  out.set(body, 1);
  return out;
}

function bad(what: string): never {
  throw new InvalidArgumentError(`auth: malformed ${what}`);
}

function str(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') bad(`field ${field}`);
  return v;
}

function bytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) bad(`field ${field}`);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
}

function hash(v: unknown, optional: boolean): string | undefined {
  if ((v === undefined || v === null) && optional) return undefined;
  if (typeof v !== 'string' || !isPasswordHash(v)) bad('password hash');
  return v;
}

function permission(v: unknown): Permission {
  if (typeof v !== 'object' || v === null) bad('permission');
  const o = v as Record<string, unknown>;
  const type = o['type'];
  if (!PERMISSION_TYPES.includes(type as PermissionType)) bad('permission type');
  return { type: type as PermissionType, key: bytes(o['key'], 'key'), rangeEnd: bytes(o['rangeEnd'], 'rangeEnd') };
}

export function decodeAuthCommand(data: Uint8Array): AuthCommand {
  if (data[0] !== AUTH_COMMAND_TAG) bad('command tag');
  const raw = unpack(data.subarray(1), 'auth command');
  if (typeof raw !== 'object' || raw === null) bad('command');
  const o = raw as Record<string, unknown>;
  switch (o['type']) {
    case 'enable':
    case 'disable':
      return { type: o['type'] };
    case 'userAdd':
      return { type: 'userAdd', name: str(o, 'name'), passwordHash: hash(o['passwordHash'], true) };
    case 'userPassword':
      return { type: 'userPassword', name: str(o, 'name'), passwordHash: hash(o['passwordHash'], false)! };
    case 'userDelete':
    case 'roleAdd':
    case 'roleDelete':
      return { type: o['type'], name: str(o, 'name') };
    case 'userGrant':
    case 'userRevoke':
      return { type: o['type'], name: str(o, 'name'), role: str(o, 'role') };
    case 'roleGrant':
      return { type: 'roleGrant', name: str(o, 'name'), permission: permission(o['permission']) };
    case 'roleRevoke':
      return { type: 'roleRevoke', name: str(o, 'name'), key: bytes(o['key'], 'key'), rangeEnd: bytes(o['rangeEnd'], 'rangeEnd') };
    default:
      return bad('command type');
  }
}

/** The auth state as a snapshot field (a plain msgpack-able object). */
export function authRecordToWire(record: AuthRecord): unknown {
  return {
    enabled: record.enabled,
    revision: record.revision,
    epoch: record.epoch,
    users: record.users.map((u) => [u.name, u.passwordHash ?? null, u.roles]),
    roles: record.roles.map((r) => [r.name, r.permissions.map((p) => [PERMISSION_TYPES.indexOf(p.type), p.key, p.rangeEnd])]),
  };
}

function user(v: unknown): AuthUser {
  if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'string' || !Array.isArray(v[2])) bad('snapshot user');
  const roles = (v[2] as unknown[]).map((r) => (typeof r === 'string' ? r : bad('snapshot user role')));
  return { name: v[0], passwordHash: hash(v[1], true), roles };
}

function role(v: unknown): AuthRole {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || !Array.isArray(v[1])) bad('snapshot role');
  const permissions = (v[1] as unknown[]).map((p): Permission => {
    if (!Array.isArray(p) || p.length !== 3) bad('snapshot permission');
    const type = PERMISSION_TYPES[p[0] as number];
    if (type === undefined) bad('snapshot permission type');
    return { type, key: bytes(p[1], 'key'), rangeEnd: bytes(p[2], 'rangeEnd') };
  });
  return { name: v[0], permissions };
}

/** Inverse of {@link authRecordToWire}; undefined (no auth section: an older snapshot) is the empty state. */
export function authRecordFromWire(v: unknown): AuthRecord | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null) bad('snapshot auth');
  const o = v as Record<string, unknown>;
  const { enabled, revision, epoch, users, roles } = o;
  if (typeof enabled !== 'boolean' || !Number.isSafeInteger(revision) || !Number.isSafeInteger(epoch) || !Array.isArray(users) || !Array.isArray(roles)) bad('snapshot auth');
  return { enabled, revision: revision as number, epoch: epoch as number, users: users.map(user), roles: roles.map(role) };
}
