/**
 * How a standalone member started with `--initial-cluster-state existing` finds its own member
 * id, as etcd's does: it asks the members of `--initial-cluster` for the cluster's member list
 * (`GET /members` on their peer listener, with the cluster token) and looks for its own peer URL
 * there. etcd's MemberAdd carries no name, so a member added that way has a generated id that
 * only the cluster knows; a member added by name (`quorumkv member add <name> <url>`) is found
 * by its peer URL just the same.
 *
 * The id found is written to `<dataDir>/member-id`, so that a restart does not depend on another
 * member being up.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { MAX_NODE_ID_BYTES } from '../protocol/types.ts';
import { HEADER_TOKEN } from '../transport/peer-link.ts';
import { MEMBERS_PATH } from '../transport/ws-transport.ts';
import { CliError, EXIT_BAD_ARGS } from './errors.ts';

/** Largest member list read from a peer, in bytes. */
export const MAX_MEMBER_LIST_BYTES = 1024 * 1024;
/** Bound on one peer's answer, in ms. */
export const MEMBER_LIST_TIMEOUT_MS = 5_000;
/** The file in the data dir that remembers the id found. */
export const MEMBER_ID_FILE = 'member-id';

export interface JoinIdentity {
  readonly id: string;
  /** Every member's id → dial URL, this one included. */
  readonly peers: Readonly<Record<string, string>>;
}

export interface PeerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

interface ListedMember {
  readonly id: string;
  readonly peerURLs: readonly string[];
}

function fetchList(url: string, token: string | undefined, tls: PeerTls | undefined): Promise<string> {
  const target = new URL(MEMBERS_PATH, url.replace(/^ws/, 'http'));
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'GET',
        timeout: MEMBER_LIST_TIMEOUT_MS,
        headers: token === undefined ? {} : { [HEADER_TOKEN]: token },
        ...(tls === undefined ? {} : { cert: tls.cert, key: tls.key, ca: tls.ca }),
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`${target.href} answered ${res.statusCode ?? '?'}`));
          return;
        }
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_MEMBER_LIST_BYTES) {
            req.destroy(new Error(`${target.href}: member list over ${MAX_MEMBER_LIST_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${target.href}: no answer within ${MEMBER_LIST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The member list a peer sent, validated (an unreadable one is an error naming the peer). */
function parseList(text: string, from: string): ListedMember[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${from}: the member list is not JSON`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${from}: the member list is not an array`);
  const out: ListedMember[] = [];
  for (const raw of parsed as unknown[]) {
    const m = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const id = m['id'];
    const urls = m['peerURLs'];
    if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > MAX_NODE_ID_BYTES) throw new Error(`${from}: bad member id in the member list`);
    if (!Array.isArray(urls) || !urls.every((u): u is string => typeof u === 'string')) throw new Error(`${from}: bad peerURLs in the member list`);
    out.push({ id, peerURLs: urls });
  }
  return out;
}

/** The id remembered in the data dir, if a previous start found one. */
export async function rememberedId(dataDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, MEMBER_ID_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const id = text.trim();
  return id === '' || Buffer.byteLength(id) > MAX_NODE_ID_BYTES ? undefined : id;
}

export async function rememberId(dataDir: string, id: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, MEMBER_ID_FILE);
  await writeFile(`${path}.tmp`, `${id}\n`);
  await rename(`${path}.tmp`, path);
}

/**
 * Asks each of `peerUrls` in turn for the member list and finds the member whose peer URLs
 * include `selfUrl` (a member that has not applied the add yet does not list it: the next one is
 * asked). Undefined when no peer that answered lists it; a CliError when no peer answered.
 */
export async function findJoinIdentity(selfUrl: string, peerUrls: readonly string[], token: string | undefined, tls: PeerTls | undefined): Promise<JoinIdentity | undefined> {
  const failures: string[] = [];
  let answered = false;
  for (const url of peerUrls) {
    let members: ListedMember[];
    try {
      members = parseList(await fetchList(url, token, tls), url);
    } catch (err) {
      failures.push((err as Error).message);
      continue;
    }
    answered = true;
    const self = members.find((m) => m.peerURLs.includes(selfUrl));
    if (self === undefined) continue;
    const peers: Record<string, string> = {};
    for (const m of members) if (m.peerURLs[0] !== undefined) peers[m.id] = m.peerURLs[0];
    peers[self.id] = selfUrl;
    return { id: self.id, peers };
  }
  if (answered) return undefined;
  throw new CliError(`cannot read the member list from any member of --initial-cluster: ${failures.join('; ')}`, EXIT_BAD_ARGS);
}
