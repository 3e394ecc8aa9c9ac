// Request/reply calls to a child process over its IPC channel: each call gets an id and a
// deadline; replies `{ id, ok, value }` or `{ id, ok: false, error }` settle it; the child's exit
// rejects every call still waiting. Used by the multi-process test clusters and bench:scale.
// Not a test file.
import type { ChildProcess } from 'node:child_process';

interface Waiting {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class IpcCalls {
  readonly #name: string;
  readonly #child: ChildProcess;
  /** The error of a failed reply's `error` field. */
  readonly #toError: (error: unknown) => Error;
  #seq = 0;
  readonly #pending = new Map<number, Waiting>();

  constructor(name: string, child: ChildProcess, toError: (error: unknown) => Error) {
    this.#name = name;
    this.#child = child;
    this.#toError = toError;
  }

  /** The id the next call will get (a child's events may be keyed by it). */
  get nextId(): number {
    return this.#seq + 1;
  }

  call<T>(op: string, args: Record<string, unknown>, timeoutMs: number): Promise<T> {
    this.#seq += 1;
    const id = this.#seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.#name}.${op} got no IPC reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.send({ id, op, args });
    });
  }

  /** Settles the call a reply message answers; false when `msg` is no reply. */
  settle(msg: Record<string, unknown>): boolean {
    const id = msg['id'];
    if (typeof id !== 'number') return false;
    const waiting = this.#pending.get(id);
    this.#pending.delete(id);
    if (msg['ok'] === true) waiting?.resolve(msg['value']);
    else waiting?.reject(this.#toError(msg['error']));
    return true;
  }

  /** Rejects every call still waiting (the child exited). */
  rejectAll(err: Error): void {
    for (const w of this.#pending.values()) w.reject(err);
    this.#pending.clear();
  }
}
