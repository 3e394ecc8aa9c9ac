// Helpers of the gRPC tests: running Debian's real `etcdctl` (v3 API) as a process, and a
// 3-member cluster of standalone `quorumkv member` processes (test/cli/helpers.ts).
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, removeDir, startMember, tempDir, waitFor } from '../cli/helpers.ts';
import type { MemberProcess } from '../cli/helpers.ts';
import { stopProcess } from '../helpers/process.ts';

export const hasEtcdctl = spawnSync('sh', ['-c', 'command -v etcdctl'], { stdio: 'ignore' }).status === 0;

export interface EtcdctlResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `etcdctl` (ETCDCTL_API=3) with `args`, feeding `stdin` when given. */
export function etcdctl(endpoints: string, args: readonly string[], options: { readonly stdin?: string; readonly timeoutMs?: number } = {}): Promise<EtcdctlResult> {
  return new Promise((resolve) => {
    const child = spawn('etcdctl', ['--endpoints', endpoints, '--dial-timeout', '3s', '--command-timeout', '5s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
    // etcdctl may exit before reading its input (a failed dial): EPIPE is its answer, not ours.
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}

/** A long-running etcdctl (watch, lease keep-alive): its output so far, and a stop. */
export function etcdctlProcess(endpoints: string, args: readonly string[]): { output(): string; stop(): Promise<void> } {
  const child = spawn('etcdctl', ['--endpoints', endpoints, '--dial-timeout', '3s', ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface ProcessCluster {
  readonly members: MemberProcess[];
  /** The temp dir holding the members' data dirs. */
  readonly dir: string;
  /** `--initial-cluster` of the three members. */
  readonly initialCluster: string;
  /** host:port of each member's client URL, comma-separated (etcdctl's --endpoints). */
  readonly endpoints: string;
  endpointOf(m: MemberProcess): string;
  stop(): Promise<void>;
}

export async function startProcessCluster(tag: string): Promise<ProcessCluster> {
  const dir = tempDir(tag);
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const names = ['g1', 'g2', 'g3'];
  const initialCluster = names.map((n, i) => `${n}=ws://127.0.0.1:${ports[i]}`).join(',');
  const members = names.map((name, i) => startMember({ name, peerPort: ports[i] as number, clientPort: ports[i + 3] as number, dataDir: join(dir, name), initialCluster }));
  const endpointOf = (m: MemberProcess): string => m.clientUrl.replace(/^http:\/\//, '');
  const endpoints = members.map(endpointOf).join(',');
  const cluster: ProcessCluster = {
    members,
    dir,
    initialCluster,
    endpoints,
    endpointOf,
    async stop() {
      await Promise.all(members.map((m) => m.stop()));
      removeDir(dir);
    },
  };
  try {
    await waitFor(
      'a leader seen by every member over gRPC',
      async () => {
        for (const m of members) {
          const r = await etcdctl(endpointOf(m), ['endpoint', 'status', '-w', 'json']);
          if (r.code !== 0 || !/"leader":[1-9]/.test(r.out)) return undefined;
        }
        return true;
      },
      60_000,
      300,
    );
  } catch (err) {
    console.error(String(err), members.map((m) => `--- ${m.name}\n${m.log()}`).join('\n'));
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export const hasEtcd = hasEtcdctl && spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0;

/** A real etcd and a standalone quorumkv member side by side, for differential sessions. */
export interface ReferencePair {
  /** host:port of etcd's client URL. */
  readonly etcdEp: string;
  /** host:port of the quorumkv member's client URL. */
  readonly qkvEp: string;
  stop(): Promise<void>;
}

export async function startReferencePair(tag: string): Promise<ReferencePair> {
  const dir = tempDir(tag);
  const [cp, pp, mp, mcp] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const etcd = spawn(
    'etcd',
    ['--name', 'ref', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${cp}`, '--advertise-client-urls', `http://127.0.0.1:${cp}`, '--listen-peer-urls', `http://127.0.0.1:${pp}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${pp}`, '--initial-cluster', `ref=http://127.0.0.1:${pp}`],
    { stdio: 'ignore' },
  );
  const member = startMember({ name: 'q', peerPort: mp as number, clientPort: mcp as number, dataDir: join(dir, 'q') });
  const pair: ReferencePair = {
    etcdEp: `127.0.0.1:${cp}`,
    qkvEp: `127.0.0.1:${mcp}`,
    async stop() {
      await stopProcess(etcd);
      await member.stop();
      removeDir(dir);
    },
  };
  for (const ep of [pair.etcdEp, pair.qkvEp]) await waitFor(`${ep} healthy`, async () => ((await etcdctl(ep, ['endpoint', 'health'])).code === 0 ? true : undefined), 30_000, 200);
  return pair;
}

/** A JSON reply minus what differs by nature (cluster/member ids, raft term). */
export function normalizedJson(text: string): unknown {
  const lines = text.split('\n');
  const body = lines.slice(1).join('\n').trim();
  const scrub = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(scrub);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (!['cluster_id', 'member_id', 'raft_term'].includes(k)) out[k] = scrub(x);
      return out;
    }
    return v;
  };
  return [lines[0], body === '' ? '' : scrub(JSON.parse(body))];
}
