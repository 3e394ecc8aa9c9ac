/**
 * The etcd v2 HTTP API on the client port, as one `HttpMount` (src/client-endpoint.ts):
 * `/v2/keys/…`, `/v2/members…`, `/v2/machines` and `/v2/stats/…`. Every keys reply carries etcd's
 * `X-Etcd-Index` (the v2 index, docs/v2.md "One keyspace"), `X-Raft-Index` and `X-Raft-Term`; every
 * keys failure is etcd's error object. Nothing a client sends can throw past `handle`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpMount, Json, JsonObject, MountContext } from '../gateway/types.ts';
import type { AuthIdentity } from '../node/auth/auth-api.ts';
import type { CallOptions } from '../node/types.ts';
import { deniedError, identityOf, V2Guard } from './access.ts';
import type { V2Context, V2Reply } from './context.ts';
import { toV2Error, V2_MESSAGES, V2Error } from './errors.ts';
import { postKey } from './in-order.ts';
import { v2Index } from './indexes.ts';
import { normalizeKey } from './keyspace.ts';
import { machines, membersRoute } from './members.ts';
import { needsOf } from './permissions.ts';
import { readKey } from './read.ts';
import { removeKey } from './remove.ts';
import { readFields } from './request.ts';
import type { V2Fields, V2Method } from './request.ts';
import { V2Stats } from './stats.ts';
import type { RequestKind } from './stats.ts';
import { WaitGate } from './wait.ts';
import { writeKey } from './write.ts';

const KEYS = '/v2/keys';
const MEMBERS = '/v2/members';

function send(res: ServerResponse, status: number, body: JsonObject | string | undefined, headers: Readonly<Record<string, string>>): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function indexHeaders(mount: MountContext, etcdIndex?: number): Record<string, string> {
  const st = mount.node.status();
  return { 'x-etcd-index': String(etcdIndex ?? v2Index(st.revision)), 'x-raft-index': String(st.commitIndex), 'x-raft-term': String(st.term) };
}

function errorBody(err: V2Error, index: number): JsonObject {
  return { errorCode: err.errorCode, message: V2_MESSAGES[err.errorCode], cause: err.detail, index };
}

/** The v2 key a `/v2/keys/…` path names (percent-decoded, slashes collapsed). */
function keyOf(path: string): string {
  try {
    return normalizeKey(decodeURIComponent(path.slice(KEYS.length)));
  } catch {
    throw new V2Error(210, `invalid URL escape in ${JSON.stringify(path.slice(0, 128))}`);
  }
}

function methodOf(req: IncomingMessage): V2Method {
  const m = req.method ?? '';
  if (m === 'GET' || m === 'PUT' || m === 'POST' || m === 'DELETE') return m;
  throw new V2Error(209, `method ${m.slice(0, 16)} not allowed on ${KEYS}`);
}

/** What a keys request did, for `/v2/stats/store`. */

function counterOf(method: V2Method, f: V2Fields): RequestKind {
  if (method === 'GET') return 'gets';
  if (method === 'POST') return 'create';
  const cas = f.has('prevValue') || f.has('prevIndex');
  if (method === 'DELETE') return cas ? 'compareAndDelete' : 'delete';
  if (cas) return 'compareAndSwap';
  const prevExist = f.string('prevExist');
  return prevExist === 'true' ? 'update' : prevExist === 'false' ? 'create' : 'sets';
}

export class V2Mount implements HttpMount {
  readonly #waits = new WaitGate();
  readonly #stats = new V2Stats();

  matches(path: string): boolean {
    return path === KEYS || path.startsWith(`${KEYS}/`) || path === MEMBERS || path.startsWith(`${MEMBERS}/`) || path === '/v2/machines' || path.startsWith('/v2/stats/');
  }

  async handle(mount: MountContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const aborter = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    const timeout = mount.config.requestTimeoutMs;
    // Read before the checks: a write is refused at apply if auth changed after this point.
    const authRevision = mount.node.auth.revision;
    const call: CallOptions = timeout === undefined ? { signal: aborter.signal, authRevision } : { signal: aborter.signal, timeoutMs: timeout, authRevision };
    try {
      if (!mount.authorized) throw deniedError();
      const keys = mount.path === KEYS || mount.path.startsWith(`${KEYS}/`);
      // Member lists, machines and stats are open as v3's MemberList and Status are; changes need root.
      const who: AuthIdentity = keys || isMembershipChange(mount.path, req) ? await identityOf(mount, req, call) : { kind: 'anonymous' };
      const guard = new V2Guard(mount.node.auth, who);
      const ctx: V2Context = { node: mount.node, call, guard };
      if (keys) await this.#keys(mount, ctx, guard, req, res, aborter.signal);
      else {
        if (isMembershipChange(mount.path, req)) guard.requireRoot();
        await this.#cluster(mount, ctx, req, res);
      }
    } catch (err) {
      const e = toV2Error(err);
      const index = e.index ?? v2Index(mount.node.status().revision);
      if (!req.complete) req.resume();
      const challenge = e.errorCode === 110 ? { 'www-authenticate': 'Basic realm="etcd"' } : {};
      send(res, e.status, errorBody(e, index), { ...indexHeaders(mount, index), ...challenge, ...(req.complete ? {} : { connection: 'close' }) });
    }
  }

  async #keys(mount: MountContext, ctx: V2Context, guard: V2Guard, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const method = methodOf(req);
    const key = keyOf(mount.path);
    const f = await readFields(req, method, mount.config.maxBodyBytes);
    const counter = counterOf(method, f);
    // A long poll reports the index it started waiting at, as etcd's does.
    const waitStart = method === 'GET' && f.bool('wait') ? v2Index(mount.node.status().revision) : undefined;
    let reply: V2Reply;
    try {
      reply = hidePrevValue(await this.#keysReply(ctx, guard, method, key, f, signal), key, guard);
    } catch (err) {
      this.#stats.count(`${counter}Fail`);
      throw err;
    }
    this.#stats.count(`${counter}Success`);
    send(res, reply.status, reply.body, indexHeaders(mount, waitStart));
  }

  async #keysReply(ctx: V2Context, guard: V2Guard, method: V2Method, key: string, f: V2Fields, signal: AbortSignal): Promise<V2Reply> {
    switch (method) {
      case 'GET': {
        // etcd's clients watch with chains of long polls; a stream of events is not served.
        if (f.bool('stream')) throw new V2Error(209, 'stream=true watches are not served: use wait=true long polls');
        if (f.bool('wait')) {
          guard.require(needsOf({ kind: 'wait', key, recursive: f.bool('recursive') }));
          return this.#waits.run(ctx, { key, recursive: f.bool('recursive'), waitIndex: f.count('waitIndex', 203) }, signal);
        }
        f.bool('sorted');
        // Whether the key is a file or a directory is known only once read: a caller allowed
        // neither is refused first (not told whether the key exists), the other check follows.
        const asFile = needsOf({ kind: 'get', key, dir: false });
        const asDir = needsOf({ kind: 'get', key, dir: true });
        if (!guard.allows(asDir)) guard.require(asFile);
        const reply = await readKey(ctx, { key, recursive: f.bool('recursive'), quorum: f.bool('quorum') });
        guard.require(isDirNode(reply.body['node']) ? asDir : asFile);
        return reply;
      }
      case 'PUT': {
        const compares = (f.has('prevExist') && f.string('prevExist') !== '') || f.has('prevValue') || f.has('prevIndex') || f.bool('refresh');
        guard.require(needsOf({ kind: 'put', key, dir: f.bool('dir'), compares, createdMarkers: [] }));
        const reply = await writeKey(ctx, {
          key,
          value: f.string('value') ?? '',
          dir: f.bool('dir'),
          ttlSeconds: f.count('ttl', 202),
          prevExist: f.has('prevExist') && f.string('prevExist') !== '' ? f.bool('prevExist') : undefined,
          prevValue: f.string('prevValue'),
          prevIndex: f.count('prevIndex', 203),
          refresh: f.bool('refresh'),
        });
        if (reply === undefined) throw new V2Error(300, `${key}: write lost a race`);
        return f.bool('noValueOnSuccess') ? { status: reply.status, body: { action: reply.body['action'] ?? 'set' } } : reply;
      }
      case 'POST':
        if (f.bool('dir')) throw new V2Error(209, 'POST creates keys, not directories');
        guard.require(needsOf({ kind: 'post', dir: key, createdMarkers: [] }));
        return postKey(ctx, { dir: key, value: f.string('value') ?? '', ttlSeconds: f.count('ttl', 202) });
      case 'DELETE':
        guard.require(needsOf({ kind: 'delete', key, subtree: f.bool('dir') || f.bool('recursive'), compares: f.has('prevValue') || f.has('prevIndex') }));
        return removeKey(ctx, { key, dir: f.bool('dir'), recursive: f.bool('recursive'), prevValue: f.string('prevValue'), prevIndex: f.count('prevIndex', 203) });
    }
  }

  async #cluster(mount: MountContext, ctx: V2Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = mount.path;
    if (path === MEMBERS || path.startsWith(`${MEMBERS}/`)) {
      const reply = await membersRoute(ctx, req, path.slice(MEMBERS.length));
      send(res, reply.status, reply.body, {});
      return;
    }
    req.resume();
    if (req.method !== 'GET') {
      send(res, 405, { message: `Method Not Allowed: ${(req.method ?? '').slice(0, 16)} on ${path.slice(0, 64)}` }, { allow: 'GET' });
      return;
    }
    if (path === '/v2/machines') send(res, 200, machines(mount.node.status().members, mount.url), {});
    else if (path === '/v2/stats/self') send(res, 200, this.#stats.self(mount.node), {});
    else if (path === '/v2/stats/store') send(res, 200, this.#stats.store(this.#waits.open), {});
    else if (path === '/v2/stats/leader') {
      const leader = this.#stats.leader(mount.node);
      send(res, leader === undefined ? 403 : 200, leader ?? { message: 'not current leader' }, {});
    } else send(res, 404, { message: `unknown path ${path.slice(0, 128)}` }, {});
  }
}

function isMembershipChange(path: string, req: IncomingMessage): boolean {
  return (path === MEMBERS || path.startsWith(`${MEMBERS}/`)) && req.method !== 'GET';
}

function isDirNode(node: Json | undefined): boolean {
  return typeof node === 'object' && node !== null && !Array.isArray(node) && node['dir'] === true;
}

/**
 * A write's reply without the previous value when the caller may not read the key: as a v3 put
 * or delete asks READ for its `prev_kv`, a WRITE-only user learns nothing it could not read.
 */
function hidePrevValue(reply: V2Reply, key: string, guard: V2Guard): V2Reply {
  const prev = reply.body['prevNode'];
  if (prev === undefined || isDirNode(prev) || guard.mayRead(key)) return reply;
  const { prevNode: _hidden, ...rest } = reply.body;
  return { status: reply.status, body: rest };
}

/** The v2 API's mount for one client endpoint. */
export function v2Mount(): HttpMount {
  return new V2Mount();
}
