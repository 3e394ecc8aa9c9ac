/**
 * `/v3/auth/*`: etcd's gateway routes of the Auth service (enable, disable, authenticate, users,
 * roles, permissions) over `node.auth`, with the proto field names as JSON keys. Access rules are
 * in access.ts: everything needs root but authenticate, and a user may read itself and its roles.
 */
import { InvalidArgumentError, PermissionDeniedError } from '../errors.ts';
import type { Permission, PermissionType } from '../node/auth/types.ts';
import type { RouteContext, UnaryHandler } from './context.ts';
import { b64, header } from './encode.ts';
import type { JsonObject } from './types.ts';
import { optBool, optBytes, optEnum, optObject, optString } from './validate.ts';
import type { Body } from './validate.ts';

const PERM_NAMES = ['READ', 'WRITE', 'READWRITE'] as const;
const PERM_TYPES: readonly PermissionType[] = ['read', 'write', 'readwrite'];
const NONE = new Uint8Array(0);

const text = (b: Body, field: string): string => optString(b, field) ?? '';
const done = (ctx: RouteContext): JsonObject => ({ header: header(ctx.node.status()) });

function permissionOf(b: Body): Permission {
  const perm = optObject(b, 'perm');
  if (perm === undefined) throw new InvalidArgumentError('gateway: perm is required');
  const name = optEnum(perm, 'permType', PERM_NAMES);
  return { type: PERM_TYPES[PERM_NAMES.indexOf(name)]!, key: optBytes(perm, 'key') ?? NONE, rangeEnd: optBytes(perm, 'range_end') ?? NONE };
}

function permissionJson(p: Permission): JsonObject {
  const out: JsonObject = { permType: PERM_NAMES[PERM_TYPES.indexOf(p.type)]! };
  if (p.key.length > 0) out['key'] = b64(p.key);
  if (p.rangeEnd.length > 0) out['range_end'] = b64(p.rangeEnd);
  return out;
}

function requireSelf(ctx: RouteContext, user: string | undefined, role?: string): void {
  const auth = ctx.node.auth;
  try {
    auth.requireRoot(ctx.identity);
  } catch (err) {
    if (!auth.isSelfOrHasRole(ctx.identity, user, role)) throw err instanceof PermissionDeniedError ? err : new PermissionDeniedError(false);
  }
}

export const authRoutes: Readonly<Record<string, UnaryHandler>> = {
  '/v3/auth/enable': async (ctx) => {
    await ctx.node.auth.enable(ctx.call);
    return done(ctx);
  },
  '/v3/auth/disable': async (ctx) => {
    await ctx.node.auth.disable(ctx.call);
    return done(ctx);
  },
  '/v3/auth/authenticate': async (ctx) => {
    const token = await ctx.node.auth.authenticate(text(ctx.body, 'name'), text(ctx.body, 'password'), ctx.call);
    return { ...done(ctx), token };
  },
  '/v3/auth/user/add': async (ctx) => {
    const noPassword = optBool(optObject(ctx.body, 'options') ?? {}, 'no_password');
    await ctx.node.auth.addUser(text(ctx.body, 'name'), noPassword ? undefined : text(ctx.body, 'password'), ctx.call);
    return done(ctx);
  },
  '/v3/auth/user/get': async (ctx) => {
    const name = text(ctx.body, 'name');
    requireSelf(ctx, name);
    const user = await ctx.node.auth.getUser(name, ctx.call);
    return user.roles.length === 0 ? done(ctx) : { ...done(ctx), roles: [...user.roles] };
  },
  '/v3/auth/user/list': async (ctx) => {
    const users = await ctx.node.auth.listUsers(ctx.call);
    return users.length === 0 ? done(ctx) : { ...done(ctx), users };
  },
  '/v3/auth/user/delete': async (ctx) => {
    await ctx.node.auth.deleteUser(text(ctx.body, 'name'), ctx.call);
    return done(ctx);
  },
  '/v3/auth/user/changepw': async (ctx) => {
    await ctx.node.auth.changePassword(text(ctx.body, 'name'), text(ctx.body, 'password'), ctx.call);
    return done(ctx);
  },
  '/v3/auth/user/grant': async (ctx) => {
    await ctx.node.auth.grantRole(text(ctx.body, 'user'), text(ctx.body, 'role'), ctx.call);
    return done(ctx);
  },
  '/v3/auth/user/revoke': async (ctx) => {
    await ctx.node.auth.revokeRole(text(ctx.body, 'name'), text(ctx.body, 'role'), ctx.call);
    return done(ctx);
  },
  '/v3/auth/role/add': async (ctx) => {
    await ctx.node.auth.addRole(text(ctx.body, 'name'), ctx.call);
    return done(ctx);
  },
  '/v3/auth/role/get': async (ctx) => {
    const name = text(ctx.body, 'role');
    requireSelf(ctx, undefined, name);
    const role = await ctx.node.auth.getRole(name, ctx.call);
    return role.permissions.length === 0 ? done(ctx) : { ...done(ctx), perm: role.permissions.map(permissionJson) };
  },
  '/v3/auth/role/list': async (ctx) => {
    const roles = await ctx.node.auth.listRoles(ctx.call);
    return roles.length === 0 ? done(ctx) : { ...done(ctx), roles };
  },
  '/v3/auth/role/delete': async (ctx) => {
    await ctx.node.auth.deleteRole(text(ctx.body, 'role'), ctx.call);
    return done(ctx);
  },
  '/v3/auth/role/grant': async (ctx) => {
    await ctx.node.auth.grantPermission(text(ctx.body, 'name'), permissionOf(ctx.body), ctx.call);
    return done(ctx);
  },
  '/v3/auth/role/revoke': async (ctx) => {
    await ctx.node.auth.revokePermission(text(ctx.body, 'role'), optBytes(ctx.body, 'key') ?? NONE, optBytes(ctx.body, 'range_end') ?? NONE, ctx.call);
    return done(ctx);
  },
};
