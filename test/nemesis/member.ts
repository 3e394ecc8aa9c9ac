// One nemesis member: a process (started by test/nemesis/cluster.ts inside its slot's network
// namespace) that runs createNode() with file storage and the ws transport, and the embedded
// clients of the workload (test/nemesis/workload.ts) calling the node API. Every call is reported to
// the runner before it is issued (`inv`, sent and flushed first, so a kill -9 cannot hide a call
// that reached the cluster) and when it returns (`ret`); watch events go in batches (`watch`).
// Requests from the runner: { id, op, args } → { id, ok, value } | { id, ok: false, error }.
// Not a test file.
import { createNode } from '../../src/create-node.ts';
import { CompactedError, QuorumError } from '../../src/errors.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/options.ts';
import type { Consistency } from '../../src/node/types.ts';
import type { Watch } from '../../src/node/watch.ts';
import { seededRandom } from '../helpers/random.ts';
import type { WatchedEvent } from './watch-check.ts';
import { runClients } from './workload.ts';
import type { Recorder } from './workload.ts';

/** What the runner passes in argv[2]. */
export interface MemberArgs {
  readonly node: Pick<NodeOptions, 'id' | 'peers' | 'dataDir' | 'join' | 'heartbeatMs' | 'electionTimeoutMs' | 'requestTimeoutMs'>;
  /** This incarnation's name in histories, e.g. `n3#2`. */
  readonly process: string;
  readonly seed: number;
  /** Prefix of every key the workload touches. */
  readonly prefix: string;
  readonly readConsistency: Consistency;
}

interface Request {
  readonly id: number;
  readonly op: string;
  readonly args: Record<string, unknown>;
}

/** Watch events sent per batch at most, and the batch interval in ms. */
const watchBatchEvents = 2_000;
const watchBatchMs = 200;
/** Bound on the final-history read, in ms. */
const historyTimeoutMs = 20_000;

const args = JSON.parse(process.argv[2] ?? '{}') as MemberArgs;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function send(msg: object): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(msg, undefined, {}, () => resolve());
  });
}

/** A watch stream over the workload's prefix that reopens after its last revision when it fails. */
class WatchStream {
  readonly #node: QuorumNode;
  #stream = 0;
  #startRevision = 1;
  #lastRevision = 0;
  #resumes = 0;
  #pending: WatchedEvent[] = [];
  #watch: Watch<unknown> | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(node: QuorumNode) {
    this.#node = node;
    this.#open(1);
    this.#timer = setInterval(() => void this.flush(), watchBatchMs);
  }

  #open(startRevision: number): void {
    // A stopped node (closing, or removed from the cluster) takes no new watch: the stream ends.
    if (this.#node.closed) return;
    const w = this.#node.watch({ prefix: args.prefix }, { startRevision });
    this.#watch = w;
    w.on('event', (ev) => {
      this.#lastRevision = ev.revision;
      this.#pending.push({ revision: ev.revision, key: ev.kv.key, value: ev.type === 'delete' ? null : String(ev.kv.value) });
      if (this.#pending.length >= watchBatchEvents) void this.flush();
    });
    w.on('error', (err) => {
      if (this.#node.closed) return;
      void this.flush().then(() => {
        if (this.#node.closed) return;
        if (err instanceof CompactedError) {
          // The resume point is gone: a new stream from now on, checked on its own.
          this.#stream++;
          this.#resumes = 0;
          this.#startRevision = this.#node.status().revision + 1;
          this.#open(this.#startRevision);
        } else {
          this.#resumes++;
          this.#open(this.#lastRevision + 1);
        }
      });
    });
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    await send({ watch: { stream: this.#stream, startRevision: this.#startRevision, resumes: this.#resumes, events } });
  }

  close(): void {
    clearInterval(this.#timer);
    this.#watch?.close();
  }
}

/**
 * Every event under the prefix from revision 1 to the last revision that wrote under it (or
 * `compacted`). The workload never deletes, so that revision is the newest modRevision of its keys.
 */
async function history(node: QuorumNode): Promise<{ events: WatchedEvent[] } | { compacted: true }> {
  const current = await node.range({ prefix: args.prefix }, { consistency: 'serializable' });
  const until = Math.max(0, ...current.kvs.map((kv) => kv.modRevision));
  const events: WatchedEvent[] = [];
  if (until === 0) return { events };
  const w = node.watch({ prefix: args.prefix }, { startRevision: 1 });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`final history not read within ${historyTimeoutMs} ms`)), historyTimeoutMs);
      w.on('event', (ev) => {
        if (ev.revision > until) return;
        events.push({ revision: ev.revision, key: ev.kv.key, value: ev.type === 'delete' ? null : String(ev.kv.value) });
        // The last revision may hold several keys (a txn): the poll below ends after the whole batch.
      });
      const poll = setInterval(() => {
        if ((events.at(-1)?.revision ?? 0) < until) return;
        clearTimeout(timer);
        clearInterval(poll);
        resolve({ events });
      }, 20);
      w.on('error', (err) => {
        clearTimeout(timer);
        clearInterval(poll);
        if (err instanceof CompactedError) resolve({ compacted: true });
        else reject(err);
      });
    });
  } finally {
    w.close();
  }
}

async function main(): Promise<void> {
  const node = await createNode({ ...args.node, ...(process.env['QKV_TEST_LOG'] === '1' ? {} : { logger: quiet }) });
  node.on('error', (err) => process.stderr.write(`[${args.process}] node error: ${err.message}\n`));
  const watch = new WatchStream(node);
  let seq = 0;
  const recorder: Recorder = {
    async invoke(input) {
      const own = ++seq;
      await send({ inv: { seq: own, input, invokeMs: nowMs() } });
      return own;
    },
    async complete(opSeq, result) {
      await send({ ret: { seq: opSeq, completeMs: nowMs(), result } });
    },
  };
  const clients = { stop: undefined as (() => Promise<void>) | undefined };
  const handlers: Record<string, (a: Record<string, unknown>) => Promise<unknown> | unknown> = {
    start: () => {
      clients.stop ??= runClients(node, { prefix: args.prefix, process: args.process, random: seededRandom(args.seed), recorder, readConsistency: args.readConsistency });
      return true;
    },
    stop: async () => {
      await clients.stop?.();
      await watch.flush();
      return true;
    },
    status: () => node.status(),
    add: (a) => node.cluster.add(a['member'] as string, a['url'] as string, { learner: a['learner'] === true, timeoutMs: 3_000 }),
    remove: (a) => node.cluster.remove(a['member'] as string, { timeoutMs: 3_000 }),
    promote: (a) => node.cluster.promote(a['member'] as string, { timeoutMs: 3_000 }),
    history: () => history(node),
    close: async () => {
      watch.close();
      await node.close();
      setImmediate(() => process.exit(0));
      return true;
    },
  };
  process.on('message', (msg: Request) => {
    const handler = handlers[msg.op];
    Promise.resolve()
      .then(() => (handler === undefined ? Promise.reject(new Error(`unknown op ${msg.op}`)) : handler(msg.args)))
      .then(
        (value) => send({ id: msg.id, ok: true, value: value ?? null }),
        (err: unknown) => send({ id: msg.id, ok: false, error: err instanceof QuorumError ? { code: err.code, message: err.message } : { code: 'UNKNOWN', message: String(err) } }),
      );
  });
  process.on('disconnect', () => void node.close().finally(() => process.exit(0)));
  await send({ started: true });
}

/** CLOCK_MONOTONIC in ms: one clock for every process on the machine, immune to wall-clock steps. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

main().catch((err: unknown) => {
  process.stderr.write(`[${args.process}] failed to start: ${String(err)}\n`);
  process.exit(1);
});
