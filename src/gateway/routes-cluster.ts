/**
 * `/v3/cluster/member/*`: list, add, update, remove, promote. A member's etcd-style `ID` is the
 * FNV-1a 64 hash of its member id (see encode.ts); requests may name a member by that ID (decimal,
 * as etcd's JSON, or hex, as etcdctl prints it) or by its id. `add` takes etcd's `peerURLs` and
 * `isLearner`, and an optional `name`: with it, the name is the new member's id (it must start
 * with that `--name`); without it, as etcd's, the member gets a generated id and finds it by its
 * peer URL when it starts. Every member's published name and client URLs are listed.
 */
import { InvalidArgumentError, MemberNotFoundError } from '../errors.ts';
import type { Member } from '../node/types.ts';
import type { RouteContext, UnaryHandler } from './context.ts';
import { header, memberIdOf } from './encode.ts';
import type { JsonObject } from './types.ts';
import { optArray, optBool, optString } from './validate.ts';

function memberJson(m: Member): JsonObject {
  const out: JsonObject = { ID: memberIdOf(m.id).toString(), name: m.name, peerURLs: [...m.peerUrls] };
  if (m.clientUrls.length > 0) out['clientURLs'] = [...m.clientUrls];
  if (m.learner) out['isLearner'] = true;
  return out;
}

async function membersJson(ctx: RouteContext): Promise<JsonObject[]> {
  const members = await ctx.node.cluster.members(ctx.call);
  return members.map((m: Member) => memberJson(m));
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
  if (urls.length === 0 || !urls.every((u): u is string => typeof u === 'string')) throw new InvalidArgumentError('gateway: peerURLs must hold ws:// URLs');
  const name = optString(ctx.body, 'name');
  const learner = optBool(ctx.body, 'isLearner');
  let member: Member;
  if (name === undefined || name === '') member = await ctx.node.cluster.addByPeerUrls(urls, { learner, ...ctx.call });
  else {
    await ctx.node.cluster.add(name, urls, { learner, ...ctx.call });
    member = { id: name, name, url: urls[0] ?? '', peerUrls: urls, clientUrls: [], learner };
  }
  return { header: header(ctx.node.status()), member: memberJson(member), members: await membersJson(ctx) };
};

const update: UnaryHandler = async (ctx) => {
  const m = await resolveMember(ctx);
  const urls = optArray(ctx.body, 'peerURLs');
  if (!urls.every((u): u is string => typeof u === 'string')) throw new InvalidArgumentError('gateway: peerURLs must hold ws:// URLs');
  await ctx.node.cluster.update(m.id, urls, ctx.call);
  return { header: header(ctx.node.status()), members: await membersJson(ctx) };
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
  '/v3/cluster/member/update': update,
  '/v3/cluster/member/remove': remove,
  '/v3/cluster/member/promote': promote,
};
