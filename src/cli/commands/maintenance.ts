/**
 * `snapshot save`, `backup`, `snapshot restore`, `endpoint status|health`.
 *
 * `snapshot save` and `backup` stream a consistent snapshot from a running member over the JSON
 * endpoint (online; the file is the node's backup format). `snapshot restore` is offline: it
 * creates a new data dir from such a file by starting a member on it with `restoreFrom` and
 * stopping it again — nothing is sent to the old cluster. It also takes an etcd snapshot
 * (`etcdctl snapshot save`, or an etcd member's `member/snap/db`): its keys become a backup first.
 */
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { JsonObject } from '../client.ts';
import { revisionOf } from '../api.ts';
import type { CommandContext } from '../api.ts';
import { CliError, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_CLUSTER_NOT_HEALTHY, EXIT_SERVER_ERROR } from '../errors.ts';
import { b64, num } from '../keys.ts';
import type { Io, Output } from '../output.ts';
import { print } from '../output.ts';
import { progressLine } from '../progress-line.ts';
import { hexId } from './member.ts';

/** Largest snapshot the CLI accepts from an endpoint. @default 8 GiB */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024 * 1024;

async function fetchSnapshot(ctx: CommandContext, label: string): Promise<{ bytes: Buffer; revision: number }> {
  const progress = progressLine(ctx.io, label);
  const parts: Buffer[] = [];
  let size = 0;
  let revision = 0;
  let done = false;
  await ctx.client.stream('/v3/maintenance/snapshot', {}, (result: JsonObject) => {
    const blob = Buffer.from(typeof result['blob'] === 'string' ? result['blob'] : '', 'base64');
    size += blob.length;
    if (size > MAX_SNAPSHOT_BYTES) throw new CliError(`snapshot over ${MAX_SNAPSHOT_BYTES} bytes`, EXIT_SERVER_ERROR);
    parts.push(blob);
    revision = revision || revisionOf(result);
    const remaining = num(result['remaining_bytes']);
    done = remaining === 0;
    progress.update(size, size + remaining);
    return !done;
  });
  progress.done();
  if (!done) throw new CliError('snapshot stream ended early', EXIT_BAD_CONNECTION);
  return { bytes: Buffer.concat(parts, size), revision };
}

/** Temp file, fsync, rename, directory fsync — a crash never leaves half a snapshot under `path`. */
async function writeDurably(path: string, bytes: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.part`);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new CliError(`cannot write ${path}: ${(err as Error).message}`, EXIT_SERVER_ERROR);
  }
}

export async function snapshotSaveCommand(ctx: CommandContext, file: string): Promise<Output> {
  const { bytes, revision } = await fetchSnapshot(ctx, `saving snapshot ${file}:`);
  await writeDurably(file, bytes);
  return { lines: [`Snapshot saved at ${file}`], json: { path: file, bytes: bytes.length, revision } };
}

export async function backupCommand(ctx: CommandContext, o: { backupDir: string; backupFile: string }): Promise<Output> {
  const path = join(o.backupDir, o.backupFile);
  const { bytes, revision } = await fetchSnapshot(ctx, `saving backup ${path}:`);
  await writeDurably(path, bytes);
  return { lines: [`Backup saved at ${path} (revision ${revision}, ${bytes.length} bytes)`], json: { path, bytes: bytes.length, revision } };
}

export interface RestoreOptions {
  readonly dataDir: string;
  readonly name: string;
  readonly initialCluster?: string | undefined;
}

export function parseInitialCluster(raw: string | undefined): Record<string, string> | undefined {
  if (raw === undefined || raw === '') return undefined;
  const peers: Record<string, string> = {};
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    // An empty name is a member added without one that has not started (etcdctl member add prints
    // it so): the id checks of the node refuse it where a name is needed.
    if (eq < 0) throw new CliError(`--initial-cluster entries are name=ws://host:port, got ${part}`, EXIT_BAD_ARGS);
    peers[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return peers;
}

/** A transport that carries nothing: a restore never talks to anyone. */
const offlineTransport = {
  start: async (): Promise<void> => {},
  send: (): void => {},
  addPeer: (): void => {},
  removePeer: (): void => {},
  stop: async (): Promise<void> => {},
};

/**
 * The backup to restore from: `file` itself, or, when it is an etcd bolt database, a backup of
 * its keys written into `scratch` (every byte of the etcd file is checked: src/grpc/bolt/etcd-import.ts).
 */
export async function restorableFile(file: string, scratch: string): Promise<string> {
  const handle = await open(file, 'r');
  const head = new Uint8Array(24);
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const { importEtcdSnapshot, looksLikeBolt, MAX_ETCD_SNAPSHOT_BYTES } = await import('../../grpc/bolt/etcd-import.ts');
  if (!looksLikeBolt(head)) return file;
  const size = (await stat(file)).size;
  if (size > MAX_ETCD_SNAPSHOT_BYTES) throw new CliError(`etcd snapshot ${file} is ${size} bytes (limit ${MAX_ETCD_SNAPSHOT_BYTES})`, EXIT_BAD_ARGS);
  const imported = importEtcdSnapshot(await readFile(file), file);
  const [{ encodeBackup }, { encodeAppSnapshot }] = await Promise.all([import('../../node/backup.ts'), import('../../node/codec.ts')]);
  const out = join(scratch, 'from-etcd.backup');
  await writeFile(out, encodeBackup({ index: 0, term: 0, revision: imported.revision, data: encodeAppSnapshot({ store: imported.store, members: {}, dedupe: [] }) }));
  return out;
}

export async function snapshotRestoreCommand(file: string, o: RestoreOptions, io?: Io): Promise<Output> {
  const existing = await readdir(o.dataDir).catch(() => [] as string[]);
  if (existing.length > 0) throw new CliError(`data dir ${o.dataDir} is not empty; restore needs a new one`, EXIT_BAD_ARGS);
  // etcd's default: the member alone, at the default peer URL.
  const peers = parseInitialCluster(o.initialCluster) ?? { [o.name]: 'ws://127.0.0.1:2380' };
  if (peers[o.name] === undefined) throw new CliError(`--initial-cluster must include ${o.name}`, EXIT_BAD_ARGS);
  // Loaded on demand: only a restore needs the node itself.
  const { startNode } = await import('../../node/create.ts');
  // The node reads the whole file at once: the line shows the start and the end of that step.
  const progress = io === undefined ? undefined : progressLine(io, `restoring ${file}:`);
  const totalBytes = progress === undefined ? undefined : await stat(file).then((s) => s.size, () => undefined);
  progress?.update(0, totalBytes);
  const scratch = await mkdtemp(join(tmpdir(), 'quorumkv-restore-'));
  try {
    const backup = await restorableFile(file, scratch);
    const node = await startNode({ id: o.name, dataDir: o.dataDir, restoreFrom: backup, peers, transport: offlineTransport });
    progress?.update(totalBytes ?? 0, totalBytes);
    progress?.done();
    try {
      // Alone, the member can elect itself: wait, so the restored state is proven readable.
      if (Object.keys(peers).length === 1) await node.ready({ timeoutMs: 30_000 });
    } finally {
      await node.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { lines: [`Restored snapshot ${file} into ${o.dataDir} as member ${o.name}`], json: { dataDir: o.dataDir, name: o.name, initialCluster: peers } };
}

function statusRow(endpoint: string, s: JsonObject): string[] {
  const id = hexId((s['header'] as JsonObject | undefined)?.['member_id']);
  const isLeader = s['leaderName'] === s['name'] && s['name'] !== undefined;
  return [endpoint, id, String(s['version'] ?? ''), String(s['name'] ?? ''), String(isLeader), String(s['isLearner'] === true), String(num(s['raftTerm'])), String(num(s['raftIndex'])), String(num(s['raftAppliedIndex'])), String(num(s['revision']))];
}

export async function endpointStatusCommand(ctx: CommandContext): Promise<Output> {
  const rows: string[][] = [];
  const failures: string[] = [];
  for (const endpoint of ctx.client.endpoints) {
    try {
      rows.push(statusRow(endpoint, await ctx.client.call('/v3/maintenance/status', {}, endpoint)));
    } catch (err) {
      failures.push(`${endpoint}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (rows.length === 0) throw new CliError(`no endpoint answered: ${failures.join('; ')}`, EXIT_BAD_CONNECTION);
  for (const f of failures) ctx.io.err(`Failed to get the status of endpoint ${f}\n`);
  const header = ['ENDPOINT', 'ID', 'VERSION', 'NAME', 'IS LEADER', 'IS LEARNER', 'RAFT TERM', 'RAFT INDEX', 'RAFT APPLIED INDEX', 'REVISION'];
  return {
    lines: rows.map((r) => r.join(', ')),
    json: rows.map((r) => Object.fromEntries(header.map((h, i) => [h.toLowerCase().replaceAll(' ', '_'), r[i] ?? '']))),
    table: { header, rows },
  };
}

/** Prints one line per endpoint, then fails with exit 5 if any is unhealthy. */
export async function endpointHealthCommand(ctx: CommandContext): Promise<void> {
  const results = await Promise.all(
    ctx.client.endpoints.map(async (endpoint) => {
      const started = performance.now();
      try {
        const h = await ctx.client.get('/health', endpoint);
        if (h.status !== 200) throw new Error(String(h.body['reason'] ?? `HTTP ${h.status}`));
        // etcd's check: a linearizable read must get through Raft.
        await ctx.client.call('/v3/kv/range', { key: b64('health') }, endpoint);
        const took = (performance.now() - started).toFixed(3);
        return { endpoint, healthy: true, line: `${endpoint} is healthy: successfully committed proposal: took = ${took}ms` };
      } catch (err) {
        return { endpoint, healthy: false, line: `${endpoint} is unhealthy: failed to commit proposal: ${err instanceof Error ? err.message : String(err)}` };
      }
    }),
  );
  print(ctx.io, ctx.format, {
    lines: results.map((r) => r.line),
    json: results.map((r) => ({ endpoint: r.endpoint, health: r.healthy })),
    table: { header: ['ENDPOINT', 'HEALTH'], rows: results.map((r) => [r.endpoint, String(r.healthy)]) },
  });
  if (results.some((r) => !r.healthy)) throw new CliError('unhealthy cluster', EXIT_CLUSTER_NOT_HEALTHY);
}
