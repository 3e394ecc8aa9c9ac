/**
 * `/v3/maintenance/status`, `/v3/maintenance/snapshot` (streamed) and `GET /health`.
 *
 * Status keeps etcd's field names (`leader` and member ids as uint64 strings, `raftIndex` = commit
 * index, `raftAppliedIndex`, `raftTerm`) and adds ours: `name`, `leaderName`, `role`,
 * `revision`, `compactRevision`. The snapshot stream is etcd's shape: `{"result":{"header",
 * "remaining_bytes","blob"}}` lines, `blob` base64 of at most `snapshotChunkBytes` bytes; the
 * concatenated blobs are the node's backup format (what `createNode({ restoreFrom })` reads).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteContext, UnaryHandler } from './context.ts';
import { b64, header, memberIdOf, setInt } from './encode.ts';
import { PACKAGE_VERSION } from '../node/versions.ts';
import type { JsonObject } from './types.ts';

const status: UnaryHandler = async (ctx) => {
  const s = ctx.node.status();
  const out: JsonObject = { header: header(s), version: PACKAGE_VERSION };
  if (s.leader !== '') out['leader'] = memberIdOf(s.leader).toString();
  setInt(out, 'raftIndex', s.commitIndex);
  setInt(out, 'raftTerm', s.term);
  setInt(out, 'raftAppliedIndex', s.appliedIndex);
  if (s.members.some((m) => m.id === s.id && m.learner)) out['isLearner'] = true;
  // Names as the members published them (a member added without one is named by its id).
  const nameOf = (id: string): string => s.members.find((m) => m.id === id)?.name || id;
  out['name'] = nameOf(s.id);
  out['leaderName'] = s.leader === '' ? '' : nameOf(s.leader);
  out['role'] = s.role;
  out['revision'] = String(s.revision);
  out['compactRevision'] = String(s.compactRevision);
  return out;
};

export async function snapshotRoute(ctx: RouteContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bytes = await ctx.node.snapshotBytes(ctx.call);
  const head = header(ctx.node.status());
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  const chunk = ctx.config.snapshotChunkBytes;
  for (let offset = 0; offset < bytes.length || offset === 0; offset += chunk) {
    if (res.destroyed) return;
    const part = bytes.subarray(offset, Math.min(bytes.length, offset + chunk));
    const remaining = bytes.length - offset - part.length;
    const ok = res.write(`${JSON.stringify({ result: { header: head, remaining_bytes: String(remaining), blob: b64(part) } })}\n`);
    if (!ok) await drainOrClose(res);
    if (bytes.length === 0) break;
  }
  res.end();
}

/** Waits for `drain` or `close`, removing both listeners after (one wait per chunk: none may pile up). */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** etcd's `/health`: `{"health":"true"}` with 200 when a leader is known, else 503. */
export function healthBody(ctx: Pick<RouteContext, 'node'>): { status: number; body: JsonObject } {
  const s = ctx.node.status();
  if (s.leader === '') return { status: 503, body: { health: 'false', reason: 'RAFT NO LEADER' } };
  return { status: 200, body: { health: 'true', reason: '' } };
}

export const maintenanceRoutes: Readonly<Record<string, UnaryHandler>> = {
  '/v3/maintenance/status': status,
};
