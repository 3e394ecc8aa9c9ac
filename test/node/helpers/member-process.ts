// A cluster member in its own OS process, driven over IPC by test/node/helpers/proc-cluster.ts
// (multi-process tests and bench/cluster.ts). argv[2] is a JSON NodeOptions subset; it runs
// createNode() with the default wsTransport (from peers) and fileStorage (dataDir) on 127.0.0.1.
// Requests: { id, op, args } → replies { id, ok, value } or { id, ok: false, error: { code, name, message } }.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { clientUrlOf, createNode } from '../../../src/create-node.ts';
import { memoryStorage } from '../../../src/storage/memory-storage.ts';
import type { QuorumNode } from '../../../src/node/node.ts';
import type { NodeOptions } from '../../../src/node/options.ts';
import { QuorumError } from '../../../src/errors.ts';
import type { Watch } from '../../../src/node/watch.ts';

interface Request {
  readonly id: number;
  readonly op: string;
  readonly args: Record<string, unknown>;
}

const options = JSON.parse(process.argv[2] ?? '{}') as NodeOptions;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const loud = {
  debug() {},
  info() {},
  warn: (o: object, m: string) => process.stderr.write(`[${options.id}] warn ${m} ${JSON.stringify(o)}\n`),
  error: (o: object, m: string) => process.stderr.write(`[${options.id}] error ${m} ${JSON.stringify(o)}\n`),
};
let node: QuorumNode;
let profiler: Session | undefined;
/** Per-thread CPU ticks from /proc (Linux; empty elsewhere): name → utime + stime. */
function threadTimes(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[`${name}#${tid}`] = Number(f[11]) + Number(f[12]);
    }
  } catch {
    // Not Linux: no per-thread figures.
  }
  return out;
}
function post(session: Session, method: string, params: object = {}): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
}
const watches = new Map<number, Watch<unknown>>();

function reply(msg: object): void {
  if (process.connected) process.send?.(msg);
}

async function handle(req: Request): Promise<unknown> {
  const a = req.args;
  const call = { timeoutMs: (a['timeoutMs'] as number | undefined) ?? 5_000 };
  switch (req.op) {
    case 'ready':
      return node.ready(call);
    case 'status':
      return node.status();
    case 'profStart': {
      // CPU profile of a window (bench/profiling): profStart, then profStop { path } writes it.
      profiler ??= new Session();
      profiler.connect();
      await post(profiler, 'Profiler.enable');
      await post(profiler, 'Profiler.setSamplingInterval', { interval: (a['intervalUs'] as number | undefined) ?? 100 });
      await post(profiler, 'Profiler.start');
      return true;
    }
    case 'profStop': {
      if (profiler === undefined) throw new Error('profStop without profStart');
      const { profile } = (await post(profiler, 'Profiler.stop')) as { profile: object };
      writeFileSync(a['path'] as string, JSON.stringify(profile));
      profiler.disconnect();
      return true;
    }
    case 'cpu': {
      // CPU time this process used so far, in µs (bench: CPU per operation per member).
      const u = process.cpuUsage();
      return { user: u.user, system: u.system, threads: threadTimes() };
    }
    case 'put':
      return node.put(a['key'] as string, a['value'], call);
    case 'putMany': {
      // Sequential puts timed in-process (bench): returns per-put latencies in µs.
      const n = a['count'] as number;
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = process.hrtime.bigint();
        await node.put(`${a['prefix'] as string}${i}`, i, call);
        lat.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      return lat;
    }
    case 'putFlood': {
      // `count` puts with `inflight` outstanding at a time (bench): returns elapsed ms.
      const n = a['count'] as number;
      const inflight = a['inflight'] as number;
      let next = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          while (next < n) {
            const i = next++;
            await node.put(`${a['prefix'] as string}${i}`, i, call);
          }
        }),
      );
      return performance.now() - t;
    }
    case 'putPaced': {
      // `count` puts offered at `ratePerSec` (bench: CPU per put at one fixed load, so batch sizes
      // do not follow the machine's noise); a put waits for none before it: returns elapsed ms.
      const n = a['count'] as number;
      const intervalMs = 1000 / (a['ratePerSec'] as number);
      const t = performance.now();
      const puts: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const due = t + i * intervalMs;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        puts.push(node.put(`${a['prefix'] as string}${i}`, i, call));
      }
      await Promise.all(puts);
      return performance.now() - t;
    }
    case 'getFlood': {
      const n = a['count'] as number;
      const inflight = a['inflight'] as number;
      const consistency = a['consistency'] as 'linearizable' | 'serializable';
      let next = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          while (next < n) {
            next++;
            await node.get(a['key'] as string, { consistency, ...call });
          }
        }),
      );
      return performance.now() - t;
    }
    case 'get':
      return node.get(a['key'] as string, { consistency: (a['consistency'] as 'serializable' | undefined) ?? 'linearizable', ...call });
    case 'range': {
      const r = await node.range({ prefix: a['prefix'] as string }, { keysOnly: true, consistency: (a['consistency'] as 'serializable' | undefined) ?? 'linearizable', ...call });
      return { keys: r.kvs.map((kv) => kv.key), revision: r.revision };
    }
    case 'watch': {
      const w = node.watch({ prefix: a['prefix'] as string }, { startRevision: a['startRevision'] as number });
      watches.set(req.id, w);
      w.on('event', (ev) => reply({ event: req.id, revision: ev.revision, key: ev.kv.key }));
      w.on('error', (err) => reply({ event: req.id, error: err.code }));
      return req.id;
    }
    case 'add':
      return node.cluster.add(a['member'] as string, a['url'] as string, { learner: a['learner'] === true, ...call });
    case 'promote':
      return node.cluster.promote(a['member'] as string, call);
    case 'remove':
      return node.cluster.remove(a['member'] as string, call);
    case 'transfer':
      return node.cluster.transferLeadership(a['member'] as string, call);
    case 'members':
      return node.cluster.members();
    case 'clientUrl':
      // The client endpoint's URL when the options asked for one (`client: { port: 0 }`).
      return clientUrlOf(node) ?? null;
    case 'close':
      await node.close();
      setImmediate(() => process.exit(0));
      return true;
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

async function main(): Promise<void> {
  // QKV_MEMBER_STORAGE=memory (benchmarks): no disk, to separate fsync time from the rest.
  const storage = process.env['QKV_MEMBER_STORAGE'] === 'memory' ? { storage: memoryStorage() } : {};
  node = await createNode({ ...options, ...storage, logger: process.env['QKV_TEST_LOG'] === '1' ? loud : quiet });
  node.on('error', (err) => process.stderr.write(`[${options.id}] node error: ${err.message}\n`));
  process.on('message', (msg: Request) => {
    handle(msg).then(
      (value) => reply({ id: msg.id, ok: true, value: value ?? null }),
      (err: unknown) =>
        reply({
          id: msg.id,
          ok: false,
          error: err instanceof QuorumError ? { code: err.code, name: err.name, message: err.message, retryable: err.retryable } : { code: 'UNKNOWN', name: 'Error', message: String(err) },
        }),
    );
  });
  process.on('disconnect', () => {
    void node.close().finally(() => process.exit(0));
  });
  reply({ started: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`[${options.id}] failed to start: ${String(err)}\n`);
  process.exit(1);
});
