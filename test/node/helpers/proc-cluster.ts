// Parent side of multi-process clusters: forks test/node/helpers/member-process.ts per member
// (wsTransport + fileStorage on 127.0.0.1) and talks to each over IPC. Used by the multi-process
// tests and bench/cluster.ts. Not a test file.
import { IpcCalls } from '../../helpers/ipc-calls.ts';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = new URL('./member-process.ts', import.meta.url).pathname;
/**
 * Extra node flags for every member process, space-separated, e.g. for profiling:
 * `QKV_MEMBER_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npm run bench:cluster`.
 */
const extraExecArgv = (process.env['QKV_MEMBER_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');

export interface RemoteError {
  readonly code: string;
  readonly name: string;
  readonly message: string;
  readonly retryable?: boolean;
}

export class RemoteCallError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(e: RemoteError) {
    super(`${e.name}: ${e.message}`);
    this.code = e.code;
    this.retryable = e.retryable === true;
  }
}

import { freePorts } from '../../helpers/ports.ts';
export { freePorts };

export class Member {
  readonly id: string;
  readonly child: ChildProcess;
  readonly #calls: IpcCalls;
  readonly #watchers = new Map<number, (msg: { revision?: number; key?: string; error?: string }) => void>();
  exited = false;
  readonly started: Promise<void>;

  constructor(id: string, options: object) {
    this.id = id;
    this.child = fork(script, [JSON.stringify(options)], { execArgv: ['--import', 'tsx', ...extraExecArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#calls = new IpcCalls(id, this.child, (e) => new RemoteCallError(e as RemoteError));
    this.started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not start within 60 s`)), 60_000);
      this.child.on('message', (msg: Record<string, unknown>) => {
        if (msg['started'] === true) {
          clearTimeout(timer);
          resolve();
        } else if (typeof msg['event'] === 'number') {
          this.#watchers.get(msg['event'])?.(msg as { revision?: number; key?: string; error?: string });
        } else this.#calls.settle(msg);
      });
      this.child.on('exit', () => {
        this.exited = true;
        clearTimeout(timer);
        reject(new Error(`${id} exited`));
        this.#calls.rejectAll(new Error(`${id} exited`));
      });
    });
    this.started.catch(() => {});
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.id} exited`));
    return this.#calls.call<T>(op, args, timeoutMs);
  }

  /** Opens a watch in the member; `onEvent` gets every event (or a terminal error code). */
  async watch(prefix: string, startRevision: number, onEvent: (msg: { revision?: number; key?: string; error?: string }) => void): Promise<void> {
    this.#watchers.set(this.#calls.nextId, onEvent);
    await this.call('watch', { prefix, startRevision });
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call('close', {}, 5_000).catch(() => {});
    const timer = setTimeout(() => this.kill(), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface ProcCluster {
  readonly dir: string;
  readonly peers: Record<string, string>;
  readonly members: Map<string, Member>;
  readonly options: object;
  start(id: string, extra?: object): Promise<Member>;
  leader(except?: string): Promise<Member | undefined>;
  waitLeader(timeoutMs: number, except?: string): Promise<Member>;
  closeAll(): Promise<void>;
}

export interface Status {
  readonly role: string;
  readonly leader: string;
  readonly term: number;
  readonly revision: number;
  readonly appliedIndex: number;
  readonly commitIndex: number;
  readonly members: { id: string; url: string; learner: boolean }[];
}

export async function startProcCluster(n: number, options: object, extraPorts = 0): Promise<ProcCluster & { spare: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'qkv-proc-'));
  const ports = await freePorts(n + extraPorts);
  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const peers: Record<string, string> = {};
  ids.forEach((id, i) => (peers[id] = `ws://127.0.0.1:${ports[i]!}`));
  const spare = ports.slice(n).map((p) => `ws://127.0.0.1:${p}`);
  const members = new Map<string, Member>();
  const cluster = {
    dir,
    peers,
    members,
    options,
    spare,
    async start(id: string, extra: object = {}) {
      const m = new Member(id, { id, peers, dataDir: join(dir, id), ...options, ...extra });
      members.set(id, m);
      await m.started;
      return m;
    },
    async leader(except?: string) {
      for (const m of members.values()) {
        if (m.exited || m.id === except) continue;
        const st = await m.call<Status>('status', {}, 2_000).catch(() => undefined);
        if (st?.role === 'leader') return m;
      }
      return undefined;
    },
    async waitLeader(timeoutMs: number, except?: string) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const l = await cluster.leader(except);
        if (l !== undefined) return l;
        if (Date.now() > deadline) throw new Error('no leader in time');
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async closeAll() {
      await Promise.all([...members.values()].map((m) => m.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(ids.map((id) => cluster.start(id)));
  } catch (err) {
    for (const m of members.values()) m.kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return cluster;
}
