// The runner's side of the histories: collects what every member process reports (`inv`, `ret`,
// `watch` messages) and turns it into the checkers' inputs. A call with no return — its process
// was killed, or never answered — is `unknown` when it writes and dropped when it only reads, as is
// a read that failed. Not a test file.
import type { HistoryOp, OpInput, OpOutput } from './history.ts';
import type { WatchedEvent, WatchStream } from './watch-check.ts';
import type { CallResult } from './workload.ts';

interface Call {
  readonly process: string;
  readonly input: OpInput;
  readonly invokeMs: number;
  completeMs?: number;
  result?: CallResult;
}

interface Stream {
  /** `process/stream`. */
  readonly name: string;
  readonly process: string;
  startRevision: number;
  resumes: number;
  readonly events: WatchedEvent[];
}

/** Whether an op can change the state (its failure then leaves the outcome unknown). */
export function isWrite(input: OpInput): boolean {
  if (input.f === 'txn') return Object.keys(input.writes).length > 0;
  return input.f === 'put' || input.f === 'cas';
}

export class HistoryRecorder {
  readonly #calls = new Map<string, Call>();
  readonly #streams = new Map<string, Stream>();
  /** Processes that sent all their watch events (their clients were stopped, not killed). */
  readonly #finished = new Set<string>();
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Takes one message of member process `process`; false when it is no history message. */
  take(process: string, msg: Record<string, unknown>): boolean {
    if (typeof msg['inv'] === 'object' && msg['inv'] !== null) {
      const inv = msg['inv'] as { seq: number; input: OpInput; invokeMs: number };
      if (this.#calls.has(`${process}/${inv.seq}`)) throw new Error(`nemesis: ${process} invoked call ${inv.seq} twice`);
      this.#calls.set(`${process}/${inv.seq}`, { process, input: inv.input, invokeMs: inv.invokeMs });
      return true;
    }
    if (typeof msg['ret'] === 'object' && msg['ret'] !== null) {
      const ret = msg['ret'] as { seq: number; completeMs: number; result: CallResult };
      const call = this.#calls.get(`${process}/${ret.seq}`);
      if (call === undefined) throw new Error(`nemesis: ${process} returned call ${ret.seq} it never invoked`);
      call.completeMs = ret.completeMs;
      call.result = ret.result;
      return true;
    }
    if (typeof msg['watch'] === 'object' && msg['watch'] !== null) {
      const w = msg['watch'] as { stream: number; startRevision: number; resumes: number; events: WatchedEvent[] };
      const key = `${process}/${w.stream}`;
      let s = this.#streams.get(key);
      if (s === undefined) this.#streams.set(key, (s = { name: key, process, startRevision: w.startRevision, resumes: w.resumes, events: [] }));
      s.resumes = w.resumes;
      for (const e of w.events) s.events.push(e);
      return true;
    }
    return false;
  }

  /** The history to check: completed calls, and writes of unknown outcome. */
  history(): HistoryOp[] {
    const out: HistoryOp[] = [];
    let id = 0;
    for (const call of this.#calls.values()) {
      const r = call.result;
      if (r?.kind === 'ok') {
        out.push({ id: id++, process: call.process, input: call.input, invokeMs: call.invokeMs, completeMs: call.completeMs ?? call.invokeMs, status: 'ok', output: r.output as OpOutput });
      } else if (r?.kind !== 'fail' && isWrite(call.input)) {
        out.push({ id: id++, process: call.process, input: call.input, invokeMs: call.invokeMs, status: 'unknown' });
      }
    }
    return out;
  }

  /** Calls recorded, by outcome (`fail` and unanswered reads are dropped from the history). */
  counts(): { readonly calls: number; readonly ok: number; readonly unknown: number; readonly dropped: number } {
    let ok = 0;
    let unknown = 0;
    for (const call of this.#calls.values()) {
      if (call.result?.kind === 'ok') ok++;
      else if (call.result?.kind !== 'fail' && isWrite(call.input)) unknown++;
    }
    return { calls: this.#calls.size, ok, unknown, dropped: this.#calls.size - ok - unknown };
  }

  /** Records that `process` flushed every watch event it had (its `stop` call returned). */
  finish(process: string): void {
    this.#finished.add(process);
  }

  streams(): WatchStream[] {
    return [...this.#streams.values()].map((s) => ({ process: s.name, prefix: this.#prefix, startRevision: s.startRevision, events: s.events, resumes: s.resumes, truncated: !this.#finished.has(s.process) }));
  }
}
