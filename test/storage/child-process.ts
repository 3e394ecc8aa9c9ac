// Helpers to run test/storage/crash-child.ts as a real process. The child is bundled once per
// test process with esbuild (installed with tsx) so each start costs a plain `node` start instead
// of a TypeScript compile: the crash test starts it 50+ times.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { tempDir } from './helpers.ts';

let bundled: { file: string; dir: string } | undefined;

/** Path of the bundled child script (built on first use; delete `dir` when done). */
export function childScript(): { file: string; dir: string } {
  if (bundled !== undefined) return bundled;
  // Inside node_modules/.cache so the bundle's bare imports (msgpackr) resolve from the repo.
  const cache = new URL('../../node_modules/.cache', import.meta.url).pathname;
  mkdirSync(cache, { recursive: true });
  const dir = tempDir('child', cache);
  const file = join(dir, 'crash-child.mjs');
  buildSync({
    entryPoints: [new URL('./crash-child.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: file,
    packages: 'external',
    logLevel: 'error',
  });
  bundled = { file, dir };
  return bundled;
}

export interface Child {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Every complete stdout line so far. */
  readonly lines: string[];
  /** Resolves with the first line matching `re`, or rejects after `timeoutMs` / on exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  stderr(): string;
  exited: boolean;
}

export function startChild(args: readonly string[]): Child {
  const proc = spawn(process.execPath, [childScript().file, ...args], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  const listeners = new Set<() => void>();
  const child: Child = {
    proc,
    lines,
    exited: false,
    stderr: () => err,
    waitFor(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) {
            cleanup();
            resolve(hit);
            return true;
          }
          if (child.exited) {
            cleanup();
            reject(new Error(`child exited before printing ${re}; stderr: ${err}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`child did not print ${re} within ${timeoutMs} ms; stderr: ${err}`));
        }, timeoutMs);
        const listener = (): void => void check();
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        if (!check()) listeners.add(listener);
      });
    },
  };
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const l of [...listeners]) l();
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (err += chunk));
  proc.on('close', () => {
    child.exited = true;
    for (const l of [...listeners]) l();
  });
  return child;
}

/** kill -9 and wait for the exit (bounded). */
export async function killHard(child: Child): Promise<void> {
  if (child.exited) return;
  const exited = once(child.proc, 'close');
  child.proc.kill('SIGKILL');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
}
