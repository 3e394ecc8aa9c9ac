// A quorumkv member in its own OS process for bench/scale.ts, driven over IPC. argv[2] is JSON:
// { options: NodeOptions subset (id, dataDir, peers, requestTimeoutMs), probeKey?: string }.
// It runs createNode() (default wsTransport from peers, fileStorage in dataDir); with probeKey it
// then retries a linearizable get of that key every PROBE_EVERY_MS until it returns a value, and
// only then reports { started, createMs, createToReadMs, readAtMs }. Needs --expose-gc for `mem`.
// Requests: { id, op, args } → replies { id, ok, value } or { id, ok: false, error }.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';
import { createNode, op, QuorumError } from '../src/index.ts';
import type { NodeOptions, QuorumNode } from '../src/index.ts';
import { GAP_TICK_MS, keyOf, LOAD_TIMEOUT_MS, loadKeys, PROBE_EVERY_MS, STALL_MS, steadyPuts, VALUE } from './scale-workload.ts';

interface Request {
  readonly id: number;
  readonly op: string;
  readonly args: Record<string, unknown>;
}

const config = JSON.parse(process.argv[2] ?? '{}') as { options: NodeOptions; probeKey?: string };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const loud = {
  debug() {},
  info() {},
  warn: (o: object, m: string) => process.stderr.write(`[${config.options.id}] warn ${m} ${JSON.stringify(o)}\n`),
  error: (o: object, m: string) => process.stderr.write(`[${config.options.id}] error ${m} ${JSON.stringify(o)}\n`),
};
let node: QuorumNode;

const codeOf = (err: unknown): string => (err instanceof QuorumError ? err.code : err instanceof Error ? err.name : 'UNKNOWN');

/** The event-loop monitor of a measurement window. */
interface Monitor {
  readonly histogram: IntervalHistogram;
  readonly timer: NodeJS.Timeout;
  stalls: number;
  maxGapMs: number;
  /** `leader` events naming a leader other than the last one known. */
  leaderChanges: number;
  /** `leader` events with no leader (this member lost its leader, or stepped down). */
  leaderLost: number;
  lastLeader: string;
  readonly onLeader: (info: { readonly leader: string }) => void;
}
let monitor: Monitor | undefined;

function startMonitor(): void {
  stopMonitor();
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let last = performance.now();
  const m: Monitor = {
    histogram,
    stalls: 0,
    maxGapMs: 0,
    leaderChanges: 0,
    leaderLost: 0,
    lastLeader: node.status().leader,
    onLeader: ({ leader }) => {
      if (leader === '') m.leaderLost++;
      else if (leader !== m.lastLeader) {
        m.leaderChanges++;
        m.lastLeader = leader;
      }
    },
    timer: setInterval(() => {
      const now = performance.now();
      const late = now - last - GAP_TICK_MS;
      last = now;
      if (late > m.maxGapMs) m.maxGapMs = late;
      if (late > STALL_MS) m.stalls++;
    }, GAP_TICK_MS),
  };
  node.on('leader', m.onLeader);
  monitor = m;
}

function stopMonitor(): { delayMaxMs: number; delayP99Ms: number; stalls: number; maxGapMs: number; leaderChanges: number; leaderLost: number } | undefined {
  const m = monitor;
  if (m === undefined) return undefined;
  monitor = undefined;
  clearInterval(m.timer);
  m.histogram.disable();
  node.off('leader', m.onLeader);
  return { delayMaxMs: m.histogram.max / 1e6, delayP99Ms: m.histogram.percentile(99) / 1e6, stalls: m.stalls, maxGapMs: m.maxGapMs, leaderChanges: m.leaderChanges, leaderLost: m.leaderLost };
}

function reply(msg: object): void {
  if (process.connected) process.send?.(msg);
}

async function handle(req: Request): Promise<unknown> {
  const a = req.args;
  switch (req.op) {
    case 'ready':
      return node.ready({ timeoutMs: (a['timeoutMs'] as number | undefined) ?? 30_000 });
    case 'status':
      return node.status();
    case 'load': {
      const keys = a['keys'] as number;
      const ms = await loadKeys(keys, a['workers'] as number, (start, end) => {
        const ops = [];
        for (let i = start; i < end; i++) ops.push(op.put(keyOf(i), VALUE));
        return node.txn().then(...ops).commit({ timeoutMs: LOAD_TIMEOUT_MS });
      });
      return ms;
    }
    case 'mem': {
      // RSS before any forced GC (what the process holds after the work); heapUsed after them (live heap).
      const rss = process.memoryUsage().rss;
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) throw new Error('scale-member needs --expose-gc');
      const gcMs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        gc();
        gcMs.push(performance.now() - t);
      }
      return { rss, heapUsed: process.memoryUsage().heapUsed, gcMaxMs: Math.max(...gcMs) };
    }
    case 'monStart':
      startMonitor();
      return true;
    case 'monStop':
      return stopMonitor() ?? null;
    case 'steady':
      return steadyPuts(a['keys'] as number, a['inflight'] as number, a['seconds'] as number, (key) => node.put(key, VALUE), codeOf);
    case 'close':
      await node.close();
      setImmediate(() => process.exit(0));
      return true;
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

async function main(): Promise<void> {
  const tCreate = performance.now();
  node = await createNode({ ...config.options, logger: process.env['QKV_BENCH_LOG'] === '1' ? loud : quiet });
  const createMs = performance.now() - tCreate;
  node.on('error', (err) => process.stderr.write(`[${config.options.id}] node error: ${err.message}\n`));
  process.on('message', (msg: Request) => {
    handle(msg).then(
      (value) => reply({ id: msg.id, ok: true, value: value ?? null }),
      (err: unknown) => reply({ id: msg.id, ok: false, error: { code: codeOf(err), message: err instanceof Error ? err.message : String(err) } }),
    );
  });
  process.on('disconnect', () => {
    void node.close().finally(() => process.exit(0));
  });
  let createToReadMs: number | undefined;
  if (config.probeKey !== undefined) {
    // Bounded by the parent's start timeout (it kills this process).
    for (;;) {
      const kv = await node.get(config.probeKey, { timeoutMs: 1_000 }).catch(() => undefined);
      if (kv !== undefined) break;
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    }
    createToReadMs = performance.now() - tCreate;
  }
  reply({ started: true, createMs, createToReadMs });
}

main().catch((err: unknown) => {
  process.stderr.write(`[${config.options.id}] failed to start: ${String(err)}\n`);
  process.exit(1);
});
