// Shared helpers for the operator tests: free loopback ports, standalone member processes
// (started with `node --import tsx src/cli/main.ts member …`, killed at the end), and running the
// CLI either in-process (fast) or as a real process (exit codes, the bin itself).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.ts';
import { runProcess } from '../helpers/process.ts';

export const root = new URL('../..', import.meta.url).pathname;
export const mainTs = join(root, 'src/cli/main.ts');

import { freePort } from '../helpers/ports.ts';
export { freePort };
/** Polls until a value comes (test/helpers/time.ts). */
import { waitForValue as waitFor } from '../helpers/time.ts';
export { waitFor };

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `qkv-cli-${tag}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface MemberProcess {
  readonly name: string;
  readonly peerUrl: string;
  readonly clientUrl: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (-1 when killed by a signal). */
  readonly exited: Promise<number>;
  log(): string;
  stop(): Promise<void>;
}

export interface MemberSpec {
  readonly name: string;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly dataDir: string;
  readonly initialCluster?: string;
  readonly state?: 'new' | 'existing';
  readonly extra?: readonly string[];
}

export function startMember(spec: MemberSpec): MemberProcess {
  const peerUrl = `ws://127.0.0.1:${spec.peerPort}`;
  const clientUrl = `http://127.0.0.1:${spec.clientPort}`;
  const args = [
    '--name', spec.name,
    '--data-dir', spec.dataDir,
    '--listen-peer-url', peerUrl,
    '--listen-client-url', clientUrl,
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
    '--snapshot-count', '10000',
    ...(spec.initialCluster === undefined ? [] : ['--initial-cluster', spec.initialCluster]),
    ...(spec.state === undefined ? [] : ['--initial-cluster-state', spec.state]),
    ...(spec.extra ?? []),
  ];
  return spawnMember({ name: spec.name, peerUrl, clientUrl, dataDir: spec.dataDir }, args);
}

/**
 * A member process `quorumkv member <memberArgs…>` with `env` added to this process's
 * environment; `where` is what the test configured it to be (the process is not asked).
 */
export function spawnMember(where: Omit<MemberProcess, 'child' | 'log' | 'stop' | 'exited'>, memberArgs: readonly string[], env: Readonly<Record<string, string>> = {}): MemberProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', mainTs, 'member', ...memberArgs], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  return {
    ...where,
    child,
    exited,
    log: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs the CLI in this process (the same code as the bin, minus process startup). */
export async function cli(endpoints: string, ...argv: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await runCli(['--endpoints', endpoints, ...argv], { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

/** Runs the real bin as a process. */
export function cliProcess(argv: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return runProcess(process.execPath, ['--import', 'tsx', mainTs, ...argv], { timeoutMs, cwd: root });
}

export async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s: unknown): string => Buffer.from(String(s), 'base64').toString('utf8');
