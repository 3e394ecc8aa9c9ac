/**
 * etcdserverpb.Cluster: MemberList, MemberAdd, MemberUpdate, MemberRemove, MemberPromote. A
 * member's etcd ID is the FNV-1a 64 hash of its member id (as the JSON gateway's). Every member
 * holds every member's name, peer URLs and client URLs (replicated, src/node/member-attributes.ts),
 * so any member lists them all.
 *
 * MemberAdd carries no name, as etcd's: the member is added under a generated id, listed with the
 * name `''` (etcdctl shows it `unstarted`) until it starts, finds its id by its peer URL and
 * publishes its name. etcd's peer URLs are http(s):// and ours ws(s):// (the WebSocket upgrade of
 * the same HTTP), so an http:// peer URL is read as ws:// and https:// as wss://.
 */
import { memberIdOf } from '../gateway/encode.ts';
import type { Member } from '../node/types.ts';
import type { Call } from './call.ts';
import { callOptions, headerOf } from './context.ts';
import type { GrpcContext, Method } from './context.ts';
import { writeHeader } from './messages-kv.ts';
import { Etcd } from './status.ts';
import { expectWire, ProtoReader, ProtoWriter, readFields, WIRE_LEN, WIRE_VARINT } from './wire.ts';

/** Most peer URLs read from one request (the node allows fewer; this bounds the parse). */
const MAX_REQUEST_PEER_URLS = 64;

function writeMember(w: ProtoWriter, field: number, m: Member): void {
  w.message(field, (o) => {
    o.int(1, memberIdOf(m.id)).string(2, m.name);
    for (const url of m.peerUrls) o.stringAlways(3, url);
    for (const url of m.clientUrls) o.stringAlways(4, url);
    o.bool(5, m.learner);
  });
}

async function membersBody(ctx: GrpcContext, call: Call, added?: Member): Promise<Uint8Array> {
  // In etcd's order: by member ID.
  const members = (await ctx.node.cluster.members(callOptions(call))).map((m) => ({ m, id: memberIdOf(m.id) })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(({ m }) => m);
  const w = new ProtoWriter();
  // etcd's cluster responses carry no revision in their header (the cluster is not the store).
  writeHeader(w, { ...headerOf(ctx), revision: 0 });
  // MemberAddResponse: member = 2, members = 3; every other response: members = 2.
  if (added !== undefined) writeMember(w, 2, added);
  for (const m of members) writeMember(w, added === undefined ? 2 : 3, m);
  return w.finish();
}

/** etcd's http(s):// peer URL as ours (ws(s)://); anything else is left for the node to reject. */
export function peerUrlOf(url: string): string {
  if (url.startsWith('http://')) return `ws://${url.slice('http://'.length)}`;
  if (url.startsWith('https://')) return `wss://${url.slice('https://'.length)}`;
  return url;
}

interface MemberRequest {
  /** uint64 `ID` (field 1 of MemberRemove/MemberPromote/MemberUpdate). */
  id: bigint;
  /** MemberAdd: field 1; MemberUpdate: field 2. */
  peerUrls: string[];
  /** MemberAdd's `isLearner` (field 2). */
  learner: boolean;
}

function readRequest(request: Uint8Array, kind: 'add' | 'update' | 'id'): MemberRequest {
  const out: MemberRequest = { id: 0n, peerUrls: [], learner: false };
  const r = new ProtoReader(request);
  const urlsField = kind === 'add' ? 1 : kind === 'update' ? 2 : -1;
  readFields(r, (f, w) => {
    if (kind !== 'add' && f === 1) {
      expectWire(w, WIRE_VARINT, 'ID');
      out.id = r.uint64();
      return true;
    }
    if (f === urlsField) {
      expectWire(w, WIRE_LEN, 'peerURLs');
      if (out.peerUrls.length >= MAX_REQUEST_PEER_URLS) throw Etcd.memberBadUrls();
      out.peerUrls.push(peerUrlOf(r.string('peerURLs')));
      return true;
    }
    if (kind === 'add' && f === 2) {
      expectWire(w, WIRE_VARINT, 'isLearner');
      out.learner = r.bool();
      return true;
    }
    return false;
  });
  return out;
}

async function resolve(ctx: GrpcContext, id: bigint, call: Call): Promise<{ member: Member; members: Member[] }> {
  const members = await ctx.node.cluster.members(callOptions(call));
  const found = members.find((m) => memberIdOf(m.id) === id);
  if (found === undefined) throw Etcd.memberNotFound();
  return { member: found, members };
}

function checkUrls(urls: readonly string[], members: readonly Member[], except?: string): void {
  if (urls.length === 0) throw Etcd.memberBadUrls();
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw Etcd.memberBadUrls();
    }
    if ((parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') || parsed.port === '') throw Etcd.memberBadUrls();
  }
  if (members.some((m) => m.id !== except && m.peerUrls.some((u) => urls.includes(u)))) throw Etcd.peerUrlExists();
}

async function list(ctx: GrpcContext, _request: Uint8Array, call: Call): Promise<Uint8Array> {
  return membersBody(ctx, call);
}

async function add(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const req = readRequest(request, 'add');
  checkUrls(req.peerUrls, await ctx.node.cluster.members(callOptions(call)));
  const added = await ctx.node.cluster.addByPeerUrls(req.peerUrls, { learner: req.learner, ...callOptions(call) });
  return membersBody(ctx, call, added);
}

async function update(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const req = readRequest(request, 'update');
  const { member, members } = await resolve(ctx, req.id, call);
  checkUrls(req.peerUrls, members, member.id);
  await ctx.node.cluster.update(member.id, req.peerUrls, callOptions(call));
  return membersBody(ctx, call);
}

async function remove(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const { member } = await resolve(ctx, readRequest(request, 'id').id, call);
  await ctx.node.cluster.remove(member.id, callOptions(call));
  return membersBody(ctx, call);
}

async function promote(ctx: GrpcContext, request: Uint8Array, call: Call): Promise<Uint8Array> {
  const { member } = await resolve(ctx, readRequest(request, 'id').id, call);
  if (!member.learner) throw Etcd.memberNotLearner();
  await ctx.node.cluster.promote(member.id, callOptions(call));
  return membersBody(ctx, call);
}

export const clusterMethods: Readonly<Record<string, Method>> = {
  '/etcdserverpb.Cluster/MemberList': { kind: 'unary', fn: list },
  '/etcdserverpb.Cluster/MemberAdd': { kind: 'unary', fn: add },
  '/etcdserverpb.Cluster/MemberUpdate': { kind: 'unary', fn: update },
  '/etcdserverpb.Cluster/MemberRemove': { kind: 'unary', fn: remove },
  '/etcdserverpb.Cluster/MemberPromote': { kind: 'unary', fn: promote },
};
