/**
 * etcdserverpb.Auth of etcd v3.4 (there is no AuthStatus in 3.4): enable/disable, Authenticate
 * (a simple token of this member), users, roles and key permissions, over `node.auth`. Field
 * numbers are etcd's (rpc.proto, authpb/auth.proto). Who may call each method is in access.ts:
 * everything but Authenticate needs root, except that a user may read itself and its own roles.
 */
import type { Permission, PermissionType } from '../node/auth/types.ts';
import { isRoot } from './access.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { writeHeader } from './messages-kv.ts';
import { PermissionDeniedError } from '../errors.ts';
import { GrpcError, Status } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_LEN, WIRE_VARINT } from './wire.ts';

const PERMISSION_TYPES: readonly PermissionType[] = ['read', 'write', 'readwrite'];
const EMPTY = new Uint8Array(0);

/** The fields of a request message: strings and bytes by field number, and the one nested message. */
interface Fields {
  readonly text: Map<number, string>;
  readonly bytes: Map<number, Uint8Array>;
  readonly nested: Map<number, Uint8Array>;
}

/** Reads `request`, taking `strings` as UTF-8 strings, `raw` as bytes and `messages` as nested messages. */
function fieldsOf(request: Uint8Array, strings: readonly number[], raw: readonly number[] = [], messages: readonly number[] = []): Fields {
  const out: Fields = { text: new Map(), bytes: new Map(), nested: new Map() };
  const r = new ProtoReader(request);
  readFields(r, (f, w) => {
    if (strings.includes(f)) {
      expectWire(w, WIRE_LEN, `field ${f}`);
      out.text.set(f, r.string(`field ${f}`));
      return true;
    }
    if (raw.includes(f) || messages.includes(f)) {
      expectWire(w, WIRE_LEN, `field ${f}`);
      (raw.includes(f) ? out.bytes : out.nested).set(f, Uint8Array.from(r.bytes()));
      return true;
    }
    return false;
  });
  return out;
}

const text = (f: Fields, n: number): string => f.text.get(n) ?? '';

function reply(ctx: GrpcContext, write?: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter();
  writeHeader(w, headerOf(ctx));
  write?.(w);
  return w.finish();
}

function readPermission(bytes: Uint8Array | undefined): Permission {
  let type = 0;
  let key: Uint8Array = EMPTY;
  let rangeEnd: Uint8Array = EMPTY;
  if (bytes !== undefined) {
    const r = new ProtoReader(bytes);
    readFields(r, (f, w) => {
      if (f === 1) {
        expectWire(w, WIRE_VARINT, 'permType');
        type = r.int32();
        return true;
      }
      if (f === 2 || f === 3) {
        expectWire(w, WIRE_LEN, f === 2 ? 'key' : 'range_end');
        const b = Uint8Array.from(r.bytes());
        if (f === 2) key = b;
        else rangeEnd = b;
        return true;
      }
      return false;
    });
  }
  const permType = PERMISSION_TYPES[type];
  if (permType === undefined) throw new GrpcError(Status.INVALID_ARGUMENT, `etcdserver: unknown permission type ${type}`);
  return { type: permType, key, rangeEnd };
}

function writePermission(w: ProtoWriter, field: number, p: Permission): void {
  w.message(field, (m) => m.int(1, PERMISSION_TYPES.indexOf(p.type)).bytes(2, p.key).bytes(3, p.rangeEnd));
}

/** The no_password flag of authpb.UserAddOptions (field 1). */
function noPassword(options: Uint8Array | undefined): boolean {
  if (options === undefined) return false;
  let flag = false;
  const r = new ProtoReader(options);
  readFields(r, (f, w) => {
    if (f !== 1) return false;
    expectWire(w, WIRE_VARINT, 'no_password');
    flag = r.bool();
    return true;
  });
  return flag;
}

type Handler = (ctx: GrpcContext, request: Uint8Array, call: Call) => Promise<Uint8Array>;

const authEnable: Handler = async (ctx, _request, call) => {
  await ctx.node.auth.enable(callOptions(call));
  return reply(ctx);
};

const authDisable: Handler = async (ctx, _request, call) => {
  await ctx.node.auth.disable(callOptions(call));
  return reply(ctx);
};

const authenticate: Handler = async (ctx, request, call) => {
  const f = fieldsOf(request, [1, 2]);
  const token = await ctx.node.auth.authenticate(text(f, 1), text(f, 2), callOptions(call));
  return reply(ctx, (w) => w.string(2, token));
};

const userAdd: Handler = async (ctx, request, call) => {
  const f = fieldsOf(request, [1, 2], [], [3]);
  await ctx.node.auth.addUser(text(f, 1), noPassword(f.nested.get(3)) ? undefined : text(f, 2), callOptions(call));
  return reply(ctx);
};

const userGet: Handler = async (ctx, request, call) => {
  const name = text(fieldsOf(request, [1]), 1);
  if (!isRoot(ctx, call.identity) && !ctx.node.auth.isSelfOrHasRole(call.identity, name)) throw new PermissionDeniedError(call.identity.kind === 'anonymous');
  const user = await ctx.node.auth.getUser(name, callOptions(call));
  return reply(ctx, (w) => {
    for (const role of user.roles) w.stringAlways(2, role);
  });
};

const userList: Handler = async (ctx, _request, call) => {
  const users = await ctx.node.auth.listUsers(callOptions(call));
  return reply(ctx, (w) => {
    for (const name of users) w.stringAlways(2, name);
  });
};

const userDelete: Handler = async (ctx, request, call) => {
  await ctx.node.auth.deleteUser(text(fieldsOf(request, [1]), 1), callOptions(call));
  return reply(ctx);
};

const userChangePassword: Handler = async (ctx, request, call) => {
  const f = fieldsOf(request, [1, 2]);
  await ctx.node.auth.changePassword(text(f, 1), text(f, 2), callOptions(call));
  return reply(ctx);
};

const userGrantRole: Handler = async (ctx, request, call) => {
  const f = fieldsOf(request, [1, 2]);
  await ctx.node.auth.grantRole(text(f, 1), text(f, 2), callOptions(call));
  return reply(ctx);
};

const userRevokeRole: Handler = async (ctx, request, call) => {
  const f = fieldsOf(request, [1, 2]);
  await ctx.node.auth.revokeRole(text(f, 1), text(f, 2), callOptions(call));
  return reply(ctx);
};

const roleAdd: Handler = async (ctx, request, call) => {
  await ctx.node.auth.addRole(text(fieldsOf(request, [1]), 1), callOptions(call));
  return reply(ctx);
};

const roleGet: Handler = async (ctx, request, call) => {
  const name = text(fieldsOf(request, [1]), 1);
  if (!isRoot(ctx, call.identity) && !ctx.node.auth.isSelfOrHasRole(call.identity, undefined, name)) throw new PermissionDeniedError(call.identity.kind === 'anonymous');
  const role = await ctx.node.auth.getRole(name, callOptions(call));
  return reply(ctx, (w) => {
    for (const p of role.permissions) writePermission(w, 2, p);
  });
};

const roleList: Handler = async (ctx, _request, call) => {
  const roles = await ctx.node.auth.listRoles(callOptions(call));
  return reply(ctx, (w) => {
    for (const name of roles) w.stringAlways(2, name);
  });
};

const roleDelete: Handler = async (ctx, request, call) => {
  await ctx.node.auth.deleteRole(text(fieldsOf(request, [1]), 1), callOptions(call));
  return reply(ctx);
};

const roleGrantPermission: Handler = async (ctx, request, call) => {
  const f = fieldsOf(request, [1], [], [2]);
  await ctx.node.auth.grantPermission(text(f, 1), readPermission(f.nested.get(2)), callOptions(call));
  return reply(ctx);
};

const roleRevokePermission: Handler = async (ctx, request, call) => {
  const f = fieldsOf(request, [1], [2, 3]);
  await ctx.node.auth.revokePermission(text(f, 1), f.bytes.get(2) ?? EMPTY, f.bytes.get(3) ?? EMPTY, callOptions(call));
  return reply(ctx);
};

const unary = (fn: Handler): Method => ({ kind: 'unary', fn });
const AUTH = '/etcdserverpb.Auth/';

export const authMethods: Readonly<Record<string, Method>> = {
  [`${AUTH}AuthEnable`]: unary(authEnable),
  [`${AUTH}AuthDisable`]: unary(authDisable),
  [`${AUTH}Authenticate`]: unary(authenticate),
  [`${AUTH}UserAdd`]: unary(userAdd),
  [`${AUTH}UserGet`]: unary(userGet),
  [`${AUTH}UserList`]: unary(userList),
  [`${AUTH}UserDelete`]: unary(userDelete),
  [`${AUTH}UserChangePassword`]: unary(userChangePassword),
  [`${AUTH}UserGrantRole`]: unary(userGrantRole),
  [`${AUTH}UserRevokeRole`]: unary(userRevokeRole),
  [`${AUTH}RoleAdd`]: unary(roleAdd),
  [`${AUTH}RoleGet`]: unary(roleGet),
  [`${AUTH}RoleList`]: unary(roleList),
  [`${AUTH}RoleDelete`]: unary(roleDelete),
  [`${AUTH}RoleGrantPermission`]: unary(roleGrantPermission),
  [`${AUTH}RoleRevokePermission`]: unary(roleRevokePermission),
};
