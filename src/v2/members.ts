/**
 * etcd's v2 members API: `GET /v2/members`, `GET /v2/members/leader`, `POST /v2/members`
 * (`{"peerURLs":[…]}`), `DELETE /v2/members/<id>`, and `GET /v2/machines`. A member's id is the
 * FNV-1a 64 hash of its name in hex, as our v3 APIs show it. Only this member's client URL is
 * known, so other members list no `clientURLs` (etcdctl then talks to this member alone).
 *
 * v2's add carries no name: the new member is named `m-` and 12 hex digits of its peer URL's SHA-256, which
 * is the `--name` it must start with. etcd's peer URLs are http(s):// and ours are ws(s):// (the
 * WebSocket upgrade of the same HTTP), so http:// is read as ws:// and https:// as wss://.
 * Failures are etcd's `{"message": …}` objects with etcd's statuses.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { MemberExistsError, MemberNotFoundError, QuorumError } from '../errors.ts';
import { readBody } from '../gateway/body.ts';
import { memberIdOf } from '../gateway/encode.ts';
import type { JsonObject } from '../gateway/types.ts';
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

function memberJson(m: Member, selfId: string, url: string): JsonObject {
  return { id: memberHexId(m.id), name: m.id, peerURLs: [m.url], clientURLs: m.id === selfId ? [url] : [] };
}

function failure(status: number, message: string): MembersReply {
  return { status, body: { message } };
}

/** The name a member added over v2 gets (see the header). */
export function nameForPeerUrl(url: string): string {
  return `m-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
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

async function add(ctx: V2Context, req: IncomingMessage, url: string): Promise<MembersReply> {
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
  if (!Array.isArray(urls) || urls.length !== 1) return failure(400, 'peerURLs must hold exactly one URL');
  const peerUrl = peerUrlOf(urls[0]);
  if (peerUrl === undefined) return failure(400, `bad peer URL ${JSON.stringify(String(urls[0]).slice(0, 128))}: want http(s):// or ws(s)://host:port`);
  const members = await ctx.node.cluster.members(ctx.call);
  if (members.some((m) => m.url === peerUrl)) return failure(409, `etcdserver: peerURL exists`);
  const name = nameForPeerUrl(peerUrl);
  try {
    await ctx.node.cluster.add(name, peerUrl, ctx.call);
  } catch (err) {
    if (err instanceof MemberExistsError) return failure(409, 'etcdserver: member ID already exist');
    throw err;
  }
  return { status: 201, body: memberJson({ id: name, url: peerUrl, learner: false }, ctx.node.id, url) };
}

async function remove(ctx: V2Context, id: string): Promise<MembersReply> {
  const members = await ctx.node.cluster.members(ctx.call);
  const found = members.find((m) => memberHexId(m.id) === id.toLowerCase() || m.id === id);
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
export async function membersRoute(ctx: V2Context, req: IncomingMessage, rest: string, url: string): Promise<MembersReply> {
  const method = req.method ?? '';
  if (rest === '' || rest === '/') {
    if (method === 'GET') {
      req.resume();
      const members = await ctx.node.cluster.members(ctx.call);
      return { status: 200, body: { members: members.map((m) => memberJson(m, ctx.node.id, url)) } };
    }
    if (method === 'POST') return add(ctx, req, url);
    return failure(405, `Method Not Allowed: ${method.slice(0, 16)} on /v2/members`);
  }
  req.resume();
  const id = rest.slice(1);
  if (id === 'leader' && method === 'GET') {
    const leader = ctx.node.status().leader;
    const member = (await ctx.node.cluster.members(ctx.call)).find((m) => m.id === leader);
    return member === undefined ? failure(503, 'During leader election') : { status: 200, body: memberJson(member, ctx.node.id, url) };
  }
  if (method === 'DELETE' && /^[^/]{1,256}$/.test(id)) return remove(ctx, id);
  return failure(405, `Method Not Allowed: ${method.slice(0, 16)} on /v2/members${rest.slice(0, 64)}`);
}

/** `/v2/machines`: the client URLs of the cluster, comma-separated (only this member's is known). */
export function machines(url: string): string {
  return url;
}
