/**
 * `/v3/cluster/member/*`: list, add, remove, promote. A member's etcd-style `ID` is the FNV-1a 64
 * hash of its name (see encode.ts); requests may name a member by that ID (decimal, as etcd's
 * JSON, or hex, as etcdctl prints it) or by its name. `add` needs a `name` — our members are
 * named, etcd's get their name when they start — besides etcd's `peerURLs` and `isLearner`.
 * Only the local member's client URL is known, so other members list no `clientURLs`.
 */
import { InvalidArgumentError, MemberNotFoundError } from '../errors.ts';
import type { Member } from '../node/types.ts';
import type { RouteContext, UnaryHandler } from './context.ts';
import { header, memberIdOf } from './encode.ts';
import type { JsonObject } from './types.ts';
import { optArray, optBool, optString } from './validate.ts';

function memberJson(m: Member, ctx: RouteContext): JsonObject {
  const out: JsonObject = { ID: memberIdOf(m.id).toString(), name: m.id, peerURLs: [m.url] };
  if (m.id === ctx.node.status().id) out['clientURLs'] = [ctx.url];
  if (m.learner) out['isLearner'] = true;
  return out;
}

async function membersJson(ctx: RouteContext): Promise<JsonObject[]> {
  const members = await ctx.node.cluster.members(ctx.call);
  return members.map((m: Member) => memberJson(m, ctx));
}

/** The member a request's `ID` (or `name`) designates. */
async function resolveMember(ctx: RouteContext): Promise<Member> {
  const raw = ctx.body['ID'] ?? ctx.body['name'];
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new InvalidArgumentError('gateway: ID (or name) is required');
  const text = String(raw);
  const members = await ctx.node.cluster.members(ctx.call);
  let numeric: bigint | undefined;
  if (/^\d{1,20}$/.test(text)) numeric = BigInt(text);
  else if (/^[0-9a-f]{1,16}$/i.test(text)) numeric = BigInt(`0x${text}`);
  const found = members.find((m: Member) => m.id === text || (numeric !== undefined && memberIdOf(m.id) === numeric));
  if (found === undefined) throw new MemberNotFoundError(text);
  return found;
}

const list: UnaryHandler = async (ctx) => ({ header: header(ctx.node.status()), members: await membersJson(ctx) });

const add: UnaryHandler = async (ctx) => {
  const urls = optArray(ctx.body, 'peerURLs');
  const url = urls[0];
  if (urls.length !== 1 || typeof url !== 'string') throw new InvalidArgumentError('gateway: peerURLs must hold exactly one ws:// URL');
  const name = optString(ctx.body, 'name');
  if (name === undefined || name === '') throw new InvalidArgumentError('gateway: name is required (the new member\'s --name)');
  const learner = optBool(ctx.body, 'isLearner');
  await ctx.node.cluster.add(name, url, { learner, ...ctx.call });
  const member: Member = { id: name, url, learner };
  return { header: header(ctx.node.status()), member: memberJson(member, ctx), members: await membersJson(ctx) };
};

const remove: UnaryHandler = async (ctx) => {
  const m = await resolveMember(ctx);
  await ctx.node.cluster.remove(m.id, ctx.call);
  return { header: header(ctx.node.status()), members: await membersJson(ctx) };
};

const promote: UnaryHandler = async (ctx) => {
  const m = await resolveMember(ctx);
  await ctx.node.cluster.promote(m.id, ctx.call);
  return { header: header(ctx.node.status()), members: await membersJson(ctx) };
};

export const clusterRoutes: Readonly<Record<string, UnaryHandler>> = {
  '/v3/cluster/member/list': list,
  '/v3/cluster/member/add': add,
  '/v3/cluster/member/remove': remove,
  '/v3/cluster/member/promote': promote,
};
