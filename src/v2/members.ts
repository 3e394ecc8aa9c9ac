/**
 * etcd's v2 members API: `GET /v2/members`, `GET /v2/members/leader`, `POST /v2/members`
 * (`{"peerURLs":[…]}`), `PUT /v2/members/<id>` (`{"peerURLs":[…]}`: new peer URLs),
 * `DELETE /v2/members/<id>`, and `GET /v2/machines`. A member's id is the FNV-1a 64 hash of its
 * member id in hex, as our v3 APIs show it; every member's published name and client URLs are
 * listed.
 *
 * v2's add carries no name, as v3's MemberAdd: the new member gets a generated id and the name
 * `''` until it starts and finds its id by its peer URL. etcd's peer URLs are http(s):// and ours
 * are ws(s):// (the WebSocket upgrade of the same HTTP), so http:// is read as ws:// and
 * https:// as wss://. Failures are etcd's `{"message": …}` objects with etcd's statuses.
 */
import type { IncomingMessage } from 'node:http';
import { MemberExistsError, MemberNotFoundError, QuorumError } from '../errors.ts';
import { readBody } from '../gateway/body.ts';
import { memberIdOf } from '../gateway/encode.ts';
import type { JsonObject } from '../gateway/types.ts';
import { MAX_MEMBER_URLS } from '../node/member-attributes.ts';
import type { Member } from '../node/types.ts';
import type { V2Context } from './context.ts';

/** Largest `POST /v2/members` body in bytes. */
export const MAX_MEMBER_BODY_BYTES = 64 * 1024;

/** A members API reply: etcd's status and JSON (undefined: no body, as a 204). */
export interface MembersReply {
  readonly status: number;
  readonly body: JsonObject | undefined;
}

export function memberHexId(name: string): string {
  return memberIdOf(name).toString(16);
}

function memberJson(m: Member): JsonObject {
  return { id: memberHexId(m.id), name: m.name, peerURLs: [...m.peerUrls], clientURLs: [...m.clientUrls] };
}

function failure(status: number, message: string): MembersReply {
  return { status, body: { message } };
}

function peerUrlOf(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length > 1024) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[u.protocol];
  if (scheme === undefined || u.port === '' || u.pathname !== '/' || u.search !== '') return undefined;
  return `${scheme}//${u.host}`;
}

/** The peer URLs of a POST or PUT body (`{"peerURLs": […]}`), read as ws(s)://, or the failure to answer. */
async function peerUrlsOf(req: IncomingMessage): Promise<string[] | MembersReply> {
  const type = req.headers['content-type'] ?? '';
  const raw = await readBody(req, MAX_MEMBER_BODY_BYTES);
  if (!type.startsWith('application/json')) return failure(415, `Bad Content-Type ${type.slice(0, 64)}, accept application/json`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return failure(400, 'body is not valid JSON');
  }
  const urls = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['peerURLs'] : undefined;
  if (!Array.isArray(urls) || urls.length === 0 || urls.length > MAX_MEMBER_URLS) return failure(400, `peerURLs must hold 1 to ${MAX_MEMBER_URLS} URLs`);
  const out: string[] = [];
  for (const u of urls as unknown[]) {
    const peerUrl = peerUrlOf(u);
    if (peerUrl === undefined) return failure(400, `bad peer URL ${JSON.stringify(String(u).slice(0, 128))}: want http(s):// or ws(s)://host:port`);
    out.push(peerUrl);
  }
  return out;
}

function taken(members: readonly Member[], urls: readonly string[], except?: string): boolean {
  return members.some((m) => m.id !== except && m.peerUrls.some((u) => urls.includes(u)));
}

async function add(ctx: V2Context, req: IncomingMessage): Promise<MembersReply> {
  const urls = await peerUrlsOf(req);
  if (!Array.isArray(urls)) return urls;
  if (taken(await ctx.node.cluster.members(ctx.call), urls)) return failure(409, 'etcdserver: peerURL exists');
  try {
    return { status: 201, body: memberJson(await ctx.node.cluster.addByPeerUrls(urls, ctx.call)) };
  } catch (err) {
    if (err instanceof MemberExistsError) return failure(409, 'etcdserver: peerURL exists');
    throw err;
  }
}

/** `PUT /v2/members/<id>`: the member's new peer URLs (204, as etcd's). */
async function update(ctx: V2Context, req: IncomingMessage, id: string): Promise<MembersReply> {
  const urls = await peerUrlsOf(req);
  if (!Array.isArray(urls)) return urls;
  const members = await ctx.node.cluster.members(ctx.call);
  const found = findMember(members, id);
  if (found === undefined) return failure(404, `No such member: ${id.slice(0, 64)}`);
  if (taken(members, urls, found.id)) return failure(409, 'etcdserver: peerURL exists');
  try {
    await ctx.node.cluster.update(found.id, urls, ctx.call);
  } catch (err) {
    if (err instanceof MemberNotFoundError) return failure(404, `No such member: ${id.slice(0, 64)}`);
    if (err instanceof MemberExistsError) return failure(409, 'etcdserver: peerURL exists');
    if (err instanceof QuorumError) return failure(err.retryable ? 503 : 500, err.message);
    throw err;
  }
  return { status: 204, body: undefined };
}

function findMember(members: readonly Member[], id: string): Member | undefined {
  return members.find((m) => memberHexId(m.id) === id.toLowerCase() || m.id === id);
}

async function remove(ctx: V2Context, id: string): Promise<MembersReply> {
  const found = findMember(await ctx.node.cluster.members(ctx.call), id);
  if (found === undefined) return failure(404, `No such member: ${id.slice(0, 64)}`);
  try {
    await ctx.node.cluster.remove(found.id, ctx.call);
  } catch (err) {
    if (err instanceof MemberNotFoundError) return failure(404, `No such member: ${id.slice(0, 64)}`);
    if (err instanceof QuorumError) return failure(err.retryable ? 503 : 500, err.message);
    throw err;
  }
  return { status: 204, body: undefined };
}

/** `/v2/members[/…]`; `rest` is the path after `/v2/members`. */
export async function membersRoute(ctx: V2Context, req: IncomingMessage, rest: string): Promise<MembersReply> {
  const method = req.method ?? '';
  if (rest === '' || rest === '/') {
    if (method === 'GET') {
      req.resume();
      const members = await ctx.node.cluster.members(ctx.call);
      return { status: 200, body: { members: members.map((m) => memberJson(m)) } };
    }
    if (method === 'POST') return add(ctx, req);
    return failure(405, `Method Not Allowed: ${method.slice(0, 16)} on /v2/members`);
  }
  const id = rest.slice(1);
  if (method === 'PUT' && /^[^/]{1,256}$/.test(id)) return update(ctx, req, id);
  req.resume();
  if (id === 'leader' && method === 'GET') {
    const leader = ctx.node.status().leader;
    const member = (await ctx.node.cluster.members(ctx.call)).find((m) => m.id === leader);
    return member === undefined ? failure(503, 'During leader election') : { status: 200, body: memberJson(member) };
  }
  if (method === 'DELETE' && /^[^/]{1,256}$/.test(id)) return remove(ctx, id);
  return failure(405, `Method Not Allowed: ${method.slice(0, 16)} on /v2/members${rest.slice(0, 64)}`);
}

/** `/v2/machines`: every member's client URLs, comma-separated (this member's own before it has published them). */
export function machines(members: readonly Member[], url: string): string {
  const urls = members.flatMap((m) => m.clientUrls);
  return urls.length === 0 ? url : urls.join(', ');
}
