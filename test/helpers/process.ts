// Running and stopping the child processes tests and benches start, bounded in time. Not a test file.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export function stopProcess(child: ChildProcess | undefined, graceMs = 5_000): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** What a process printed and how it exited. */
export interface ProcessResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs a command to its end, collecting stdout and stderr; SIGKILL after `timeoutMs`. */
export function runProcess(command: string, args: readonly string[], options: { readonly timeoutMs: number; readonly cwd?: string; readonly env?: NodeJS.ProcessEnv }): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }), ...(options.env === undefined ? {} : { env: options.env }) });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}
