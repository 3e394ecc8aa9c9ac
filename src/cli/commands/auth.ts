/**
 * `user …`, `role …`, `auth enable|disable` — etcdctl 3.4's auth commands over the JSON
 * endpoint's `/v3/auth/*` routes (docs/auth.md), with etcdctl's output texts. Passwords not given
 * as `name:password` are asked for on the terminal without echo.
 */
import type { CommandContext } from '../api.ts';
import type { JsonObject } from '../client.ts';
import { CliError, EXIT_BAD_ARGS } from '../errors.ts';
import { b64, prefixEnd } from '../keys.ts';
import type { Output } from '../output.ts';
import { promptHidden } from '../password-prompt.ts';

type Flags = Readonly<Record<string, string | boolean | undefined>>;

/** One command: its commander spec, description, boolean flags and what it does. */
export interface AuthCommandSpec {
  readonly spec: string;
  readonly description: string;
  readonly flags?: readonly (readonly [string, string])[];
  readonly run: (ctx: CommandContext, args: readonly string[], flags: Flags) => Promise<Output>;
}

const said = (line: string, json: unknown): Output => ({ lines: [line], json });
const unb64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : '', 'base64').toString('utf8');
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

async function newPassword(name: string): Promise<string> {
  const first = await promptHidden(`Password of ${name}: `);
  const again = await promptHidden(`Type password of ${name} again for confirmation: `);
  if (first !== again) throw new CliError('given passwords are different', EXIT_BAD_ARGS);
  return first;
}

/** etcdctl's `[key, end)` of a permission command: a single key, `--prefix` or `--from-key`. */
function permissionRange(key: string, end: string | undefined, flags: Flags): { key: string; range_end?: string } {
  const prefix = flags['prefix'] === true;
  const fromKey = flags['fromKey'] === true;
  if ([prefix, fromKey, end !== undefined].filter(Boolean).length > 1) throw new CliError('--prefix, --from-key and an end key exclude one another', EXIT_BAD_ARGS);
  if (prefix) return { key: b64(key), range_end: b64(key === '' ? '\0' : (prefixEnd(key) ?? '\0')) };
  if (fromKey) return { key: b64(key === '' ? '\0' : key), range_end: b64('\0') };
  return end === undefined ? { key: b64(key) } : { key: b64(key), range_end: b64(end) };
}

/** etcdctl's rendering of one permission: the key, or `[key, end)` with a note. */
function permissionLine(p: JsonObject): string {
  const key = unb64(p['key']);
  const end = unb64(p['range_end']);
  if (end === '') return `\t${key}`;
  if (end === '\0') return `\t[${key}, <open ended>`;
  const note = prefixEnd(key) === end ? ` (prefix ${key})` : '';
  return `\t[${key}, ${end})${note}`;
}

const RANGE_FLAGS: readonly (readonly [string, string])[] = [
  ['--prefix', 'the permission covers every key with this prefix'],
  ['--from-key', 'the permission covers every key from this one on'],
];

export const AUTH_COMMANDS: readonly AuthCommandSpec[] = [
  {
    spec: 'user add <user>',
    description: 'add a user (user:password, else the password is asked for)',
    flags: [['--no-password', 'a user that cannot authenticate with a password']],
    async run(ctx, [arg = ''], flags) {
      const colon = arg.indexOf(':');
      const name = colon < 0 ? arg : arg.slice(0, colon);
      const body: JsonObject = { name };
      if (flags['password'] === false) body['options'] = { no_password: true };
      else body['password'] = colon < 0 ? await newPassword(name) : arg.slice(colon + 1);
      return said(`User ${name} created`, await ctx.client.call('/v3/auth/user/add', body));
    },
  },
  {
    spec: 'user get <user>',
    description: 'a user and its roles',
    async run(ctx, [name = '']) {
      const reply = await ctx.client.call('/v3/auth/user/get', { name });
      return { lines: [`User: ${name}`, `Roles: ${list(reply['roles']).join(' ')}`], json: reply };
    },
  },
  {
    spec: 'user list',
    description: 'every user',
    async run(ctx) {
      const reply = await ctx.client.call('/v3/auth/user/list', {});
      return { lines: list(reply['users']), json: reply };
    },
  },
  {
    spec: 'user delete <user>',
    description: 'delete a user',
    async run(ctx, [name = '']) {
      return said(`User ${name} deleted`, await ctx.client.call('/v3/auth/user/delete', { name }));
    },
  },
  {
    spec: 'user passwd <user>',
    description: 'change a user\'s password (asked for twice)',
    async run(ctx, [name = '']) {
      return said('Password updated', await ctx.client.call('/v3/auth/user/changepw', { name, password: await newPassword(name) }));
    },
  },
  {
    spec: 'user grant-role <user> <role>',
    description: 'grant a role to a user',
    async run(ctx, [user = '', role = '']) {
      return said(`Role ${role} is granted to user ${user}`, await ctx.client.call('/v3/auth/user/grant', { user, role }));
    },
  },
  {
    spec: 'user revoke-role <user> <role>',
    description: 'revoke a role from a user',
    async run(ctx, [name = '', role = '']) {
      return said(`Role ${role} is revoked from user ${name}`, await ctx.client.call('/v3/auth/user/revoke', { name, role }));
    },
  },
  {
    spec: 'role add <role>',
    description: 'add a role',
    async run(ctx, [name = '']) {
      return said(`Role ${name} created`, await ctx.client.call('/v3/auth/role/add', { name }));
    },
  },
  {
    spec: 'role get <role>',
    description: 'a role and its key permissions',
    async run(ctx, [role = '']) {
      const reply = await ctx.client.call('/v3/auth/role/get', { role });
      const perms = Array.isArray(reply['perm']) ? (reply['perm'] as JsonObject[]) : [];
      const of = (types: readonly string[]): string[] => perms.filter((p) => types.includes(String(p['permType'] ?? 'READ'))).map(permissionLine);
      return { lines: [`Role ${role}`, 'KV Read:', ...of(['READ', 'READWRITE']), 'KV Write:', ...of(['WRITE', 'READWRITE'])], json: reply };
    },
  },
  {
    spec: 'role list',
    description: 'every role',
    async run(ctx) {
      const reply = await ctx.client.call('/v3/auth/role/list', {});
      return { lines: list(reply['roles']), json: reply };
    },
  },
  {
    spec: 'role delete <role>',
    description: 'delete a role (its users lose it)',
    async run(ctx, [role = '']) {
      return said(`Role ${role} deleted`, await ctx.client.call('/v3/auth/role/delete', { role }));
    },
  },
  {
    spec: 'role grant-permission <role> <type> <key> [endKey]',
    description: 'grant read, write or readwrite on a key, a range, a prefix (--prefix) or from a key on (--from-key)',
    flags: RANGE_FLAGS,
    async run(ctx, [name = '', type = '', key = '', end], flags) {
      const permType = type.toUpperCase();
      if (!['READ', 'WRITE', 'READWRITE'].includes(permType)) throw new CliError(`permission type must be read, write or readwrite, got ${type}`, EXIT_BAD_ARGS);
      const reply = await ctx.client.call('/v3/auth/role/grant', { name, perm: { permType, ...permissionRange(key, end, flags) } });
      return said(`Role ${name} updated`, reply);
    },
  },
  {
    spec: 'role revoke-permission <role> <key> [endKey]',
    description: 'revoke the permission on exactly this key, range or prefix',
    flags: RANGE_FLAGS,
    async run(ctx, [role = '', key = '', end], flags) {
      const reply = await ctx.client.call('/v3/auth/role/revoke', { role, ...permissionRange(key, end, flags) });
      return said(`Permission of key ${key} is revoked from role ${role}`, reply);
    },
  },
  {
    spec: 'auth enable',
    description: 'enable auth (needs user root; it is given role root if it lacks it, as etcdctl does)',
    async run(ctx) {
      try {
        return said('Authentication Enabled', await ctx.client.call('/v3/auth/enable', {}));
      } catch (err) {
        if (!(err instanceof CliError) || !err.message.includes('root user does not have root role')) throw err;
        await ctx.client.call('/v3/auth/role/add', { name: 'root' }).catch(() => undefined);
        await ctx.client.call('/v3/auth/user/grant', { user: 'root', role: 'root' });
        return said('Authentication Enabled', await ctx.client.call('/v3/auth/enable', {}));
      }
    },
  },
  {
    spec: 'auth disable',
    description: 'disable auth',
    async run(ctx) {
      return said('Authentication Disabled', await ctx.client.call('/v3/auth/disable', {}));
    },
  },
];
