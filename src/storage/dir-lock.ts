/**
 * The data dir lock: a `LOCK` file created with O_EXCL holding the owner's pid. A second
 * `open()` of the same dir — from this process or another — finds the file and a live pid and
 * fails with {@link LockedError}. A lock left by a process that died (kill -9, power loss) names a
 * pid that no longer exists; it is taken over (removed and created again, once).
 *
 * The lock is taken and released with synchronous calls: it happens once per open/close, and a
 * handful of syscalls costs less than as many thread-pool round trips.
 *
 * Limits: pid liveness is checked on this host only (do not share a data dir over a network file
 * system), and a recycled pid makes a stale lock look live (the error names the pid; remove the
 * LOCK file after checking).
 */
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { LockedError } from '../errors.ts';
import { fsyncDirSync } from './fs-util.ts';

export const LOCK_FILE = 'LOCK';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readText(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parsePid(text: string): number | undefined {
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Dirs locked by this process: a second open in the same process fails before touching files. */
const lockedInProcess = new Set<string>();

export class DirLock {
  readonly #dir: string;
  readonly #path: string;
  readonly #token: string;
  #held = false;

  private constructor(dir: string) {
    this.#dir = dir;
    this.#path = join(dir, LOCK_FILE);
    this.#token = `${process.pid}\n${Date.now()}-${Math.floor(Math.random() * 2 ** 32).toString(16)}\n`;
  }

  /** Takes the lock on `dir` or rejects with {@link LockedError}. */
  static async acquire(dir: string, log?: (obj: object, msg: string) => void): Promise<DirLock> {
    const lock = new DirLock(dir);
    await lock.#acquire(log);
    return lock;
  }

  async #acquire(log?: (obj: object, msg: string) => void): Promise<void> {
    const key = resolve(this.#dir);
    if (lockedInProcess.has(key)) throw new LockedError(this.#dir, `pid ${process.pid}, this process`);
    lockedInProcess.add(key);
    try {
      await this.#acquireFile(log);
    } catch (err) {
      lockedInProcess.delete(key);
      throw err;
    }
  }

  async #acquireFile(log?: (obj: object, msg: string) => void): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.#tryCreate()) return;
      const text = readText(this.#path);
      if (text === undefined) continue; // vanished between our attempt and the read
      const pid = parsePid(text);
      // Our own pid in a lock this process does not hold is a previous incarnation's (containers
      // often restart a service with the same pid), so it is stale too.
      if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw new LockedError(this.#dir, `pid ${pid}`);
      if (attempt === 0) {
        log?.({ dir: this.#dir, pid }, 'storage: removing a stale data dir lock left by a dead process');
        // Remove only the stale file we read, not one a racing process just created.
        if (readText(this.#path) === text) fs.rmSync(this.#path, { force: true });
      }
    }
    throw new LockedError(this.#dir, 'a lock file that could not be taken over');
  }

  /**
   * Creates the lock with its content in one step: write a private temp file, then hard-link it
   * to LOCK (link fails if LOCK exists), so no reader ever sees an empty lock file.
   */
  #tryCreate(): boolean {
    const tmp = `${this.#path}.${process.pid}.${Math.floor(Math.random() * 2 ** 32).toString(16)}.tmp`;
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeSync(fd, this.#token);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, this.#path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    fsyncDirSync(this.#dir);
    this.#held = true;
    return true;
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    lockedInProcess.delete(resolve(this.#dir));
    try {
      if (fs.readFileSync(this.#path, 'utf8') === this.#token) fs.rmSync(this.#path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
