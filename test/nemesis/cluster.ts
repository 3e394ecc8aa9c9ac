// The nemesis's cluster: member slots, each a network namespace (test/nemesis/netns.ts) holding
// at most one member process (test/nemesis/member.ts) at a time. A slot's member id changes when
// its instance is replaced with an empty data dir (removed and re-added through the cluster API, as
// an operator would). Every process is started through `ip netns exec`, which execs node in place,
// so the child's pid is the member's and SIGKILL/SIGSTOP reach it directly. Not a test file.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { IpcCalls } from '../helpers/ipc-calls.ts';
import type { Consistency } from '../../src/node/types.ts';
import type { MemberArgs } from './member.ts';
import type { NetLab } from './netns.ts';
import type { HistoryRecorder } from './recorder.ts';

const memberScript = new URL('./member.ts', import.meta.url).pathname;
/** Bound on a member process's start (tsx compile included), in ms. */
const startTimeoutMs = 60_000;
/** Bound on waiting for a killed process to be reaped, in ms. */
const exitTimeoutMs = 10_000;
/** The peer port every member listens on (each in its own namespace, so they never clash). */
const peerPort = 7001;

export class MemberCallError extends Error {
  readonly code: string;
  constructor(e: { code?: string; message?: string }) {
    super(e.message ?? 'member call failed');
    this.code = e.code ?? 'UNKNOWN';
  }
}

/** Timing of every member (fast elections make faults bite within a short run). */
export interface MemberTiming {
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

export interface Slot {
  readonly slot: number;
  /** The member id this slot's instance has now. */
  id: string;
  /** Replacements so far (the id's suffix). */
  generation: number;
  /** Processes started in this slot so far (a history's process name is `id#incarnation`). */
  incarnation: number;
  role: 'voter' | 'learner' | 'none';
  /** The old id's removal was asked for and is not known to be done (it never runs again). */
  removing: boolean;
  child: ChildProcess | undefined;
  calls: IpcCalls | undefined;
  paused: boolean;
}

/** The name of a slot's current process in the histories. */
export function processName(s: Slot): string {
  return `${s.id}#${s.incarnation}`;
}

export class NemesisCluster {
  readonly lab: NetLab;
  readonly dir: string;
  readonly slots: Slot[];
  readonly #recorder: HistoryRecorder;
  readonly #timing: MemberTiming;
  readonly #seed: number;
  readonly #prefix: string;
  readonly #readConsistency: Consistency;
  /** Whether the workload runs (new processes start their clients at once). */
  clientsRunning = false;

  constructor(lab: NetLab, dir: string, recorder: HistoryRecorder, timing: MemberTiming, workload: { readonly seed: number; readonly prefix: string; readonly readConsistency: Consistency }) {
    this.lab = lab;
    this.dir = dir;
    this.#recorder = recorder;
    this.#timing = timing;
    this.#seed = workload.seed;
    this.#prefix = workload.prefix;
    this.#readConsistency = workload.readConsistency;
    this.slots = Array.from({ length: lab.slots }, (_, i) => ({ slot: i + 1, id: `n${i + 1}`, generation: 1, incarnation: 0, role: 'voter', removing: false, child: undefined, calls: undefined, paused: false }));
  }

  url(slot: number): string {
    return `ws://${this.lab.address(slot)}:${peerPort}`;
  }

  dataDir(s: Slot): string {
    return join(this.dir, s.id);
  }

  /** The configuration as the runner knows it: member id → URL. */
  peers(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const s of this.slots) if (s.role !== 'none') out[s.id] = this.url(s.slot);
    return out;
  }

  live(): Slot[] {
    return this.slots.filter((s) => s.child !== undefined && !s.paused);
  }

  /**
   * Starts slot `s`'s process and waits for it to run. A replacement instance (generation > 1)
   * always starts with `join`: killed before its first snapshot, its data dir is still empty, and
   * without `join` it would bootstrap a cluster of its own.
   */
  async start(s: Slot): Promise<void> {
    const join = s.generation > 1;
    if (s.child !== undefined) throw new Error(`nemesis: slot ${s.slot} already runs a process`);
    s.incarnation++;
    const name = processName(s);
    const args: MemberArgs = {
      node: { id: s.id, peers: this.peers(), dataDir: this.dataDir(s), join, ...this.#timing },
      process: name,
      seed: this.#seed * 1_000 + s.slot * 100 + s.incarnation,
      prefix: this.#prefix,
      readConsistency: this.#readConsistency,
    };
    const child = spawn('ip', ['netns', 'exec', this.lab.namespace(s.slot), process.execPath, '--import', 'tsx', memberScript, JSON.stringify(args)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const calls = new IpcCalls(name, child, (e) => new MemberCallError(e as { code?: string; message?: string }));
    s.child = child;
    s.calls = calls;
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nemesis: ${name} did not start within ${startTimeoutMs} ms`)), startTimeoutMs);
      child.on('message', (msg: Record<string, unknown>) => {
        if (msg['started'] === true) {
          clearTimeout(timer);
          resolve();
        } else if (!this.#recorder.take(name, msg)) calls.settle(msg);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        calls.rejectAll(new Error(`${name} exited`));
        if (s.child === child) {
          s.child = undefined;
          s.calls = undefined;
          s.paused = false;
        }
        reject(new Error(`nemesis: ${name} exited (${signal ?? code}) before it started`));
      });
    });
    await started;
    if (this.clientsRunning) await this.call(s, 'start', {}, 10_000).catch(() => {});
  }

  call<T = unknown>(s: Slot, op: string, args: Record<string, unknown> = {}, timeoutMs = 5_000): Promise<T> {
    if (s.calls === undefined) return Promise.reject(new Error(`nemesis: slot ${s.slot} runs no process`));
    return s.calls.call<T>(op, args, timeoutMs);
  }

  /** kill -9, then waits (bounded) until the process is gone. */
  async kill(s: Slot): Promise<void> {
    const child = s.child;
    if (child === undefined) return;
    const gone = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, exitTimeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    child.kill('SIGKILL');
    await gone;
    s.child = undefined;
    s.calls = undefined;
    s.paused = false;
  }

  pause(s: Slot): void {
    if (s.child === undefined || s.paused) return;
    s.child.kill('SIGSTOP');
    s.paused = true;
  }

  resume(s: Slot): void {
    if (s.child === undefined || !s.paused) return;
    s.child.kill('SIGCONT');
    s.paused = false;
  }

  /** Deletes a slot's data dir (the instance is replaced by an empty one). */
  wipe(s: Slot): void {
    rmSync(this.dataDir(s), { recursive: true, force: true });
  }

  /** Kills every process (resumed first, so none is left stopped) — the teardown's last resort. */
  async killAll(): Promise<void> {
    for (const s of this.slots) this.resume(s);
    await Promise.all(this.slots.map((s) => this.kill(s)));
  }
}
