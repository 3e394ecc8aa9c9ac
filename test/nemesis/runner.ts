// The nemesis run: a cluster of member processes in network namespaces, their embedded clients
// recording histories, a seeded schedule of faults for `seconds`, then healing, convergence, and the
// checks — linearizability of every key's history and of the multi-key txns, every watch stream
// against the final history, and every member's final history equal. Everything it creates
// (processes, namespaces, temp dirs) is removed at the end, also when it fails. Not a test file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../helpers/random.ts';
import { sleep } from '../helpers/time.ts';
import { NemesisCluster, processName } from './cluster.ts';
import type { MemberTiming, Slot } from './cluster.ts';
import { checkHistory } from './linearizability.ts';
import type { PartitionResult } from './linearizability.ts';
import { completeReplacement, replaceInstance } from './membership.ts';
import { NetLab, removeStaleNamespaces } from './netns.ts';
import { HistoryRecorder } from './recorder.ts';
import { describeStep, nextStep } from './schedule.ts';
import type { Step } from './schedule.ts';
import { checkWatchStreams } from './watch-check.ts';
import type { WatchedEvent } from './watch-check.ts';

export interface NemesisOptions {
  /** Time under faults, in s. */
  readonly seconds: number;
  readonly seed: number;
  /** Member slots. @default 5 */
  readonly members?: number;
  /** Progress lines (each fault as it happens). @default console.log */
  readonly log?: (line: string) => void;
  /**
   * Plain reads with `consistency: 'serializable'` (not linearizable): the run must then report
   * violations — a check that the nemesis and its checker can catch a stale read. @default false
   */
  readonly unsafeReads?: boolean;
  /** On a violation or an undecided history, write the histories to a file in the temp dir. @default true */
  readonly keepHistories?: boolean;
  /** Bound on each linearizability search, in ms. @default 60_000 */
  readonly checkBudgetMs?: number;
}

export interface NemesisSummary {
  readonly seed: number;
  readonly seconds: number;
  readonly calls: { readonly calls: number; readonly ok: number; readonly unknown: number; readonly dropped: number };
  readonly faults: Readonly<Record<string, number>>;
  readonly partitions: readonly PartitionResult[];
  readonly watchStreams: number;
  readonly watchEvents: number;
  readonly historyEvents: number;
  /** Every violation found (empty when the run is clean). */
  readonly violations: readonly string[];
  /** Histories the checker could not decide within its budget. */
  readonly undecided: readonly string[];
}

const timing: MemberTiming = { heartbeatMs: 50, electionTimeoutMs: 500, requestTimeoutMs: 2_000 };
const prefix = 'nem/';
/** Budget of a membership change during a fault, and of the healing after the run, in ms. */
const membershipBudgetMs = 8_000;
const convergeTimeoutMs = 30_000;

interface StatusReply {
  readonly role: string;
  readonly revision: number;
  readonly appliedIndex: number;
}

class Run {
  readonly faults: Record<string, number> = {};
  readonly cluster: NemesisCluster;
  readonly #log: (line: string) => void;
  readonly #t0 = Date.now();

  constructor(cluster: NemesisCluster, log: (line: string) => void) {
    this.cluster = cluster;
    this.#log = log;
  }

  log(line: string): void {
    this.#log(`[nemesis +${((Date.now() - this.#t0) / 1000).toFixed(1)}s] ${line}`);
  }

  count(kind: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  async step(step: Step): Promise<void> {
    const c = this.cluster;
    this.log(describeStep(step));
    if (step.network !== undefined) {
      await c.lab.setCut(step.network.links);
      this.count(step.network.kind);
    }
    const p = step.process;
    const s = p === undefined ? undefined : c.slots[p.slot - 1];
    const holdUntil = Date.now() + step.holdMs;
    if (p !== undefined && s !== undefined && s.child !== undefined) {
      this.count(p.kind);
      if (p.kind === 'kill') await c.kill(s);
      else if (p.kind === 'pause') c.pause(s);
      // The membership change happens during the network fault, the way a replacement during an outage would.
      else this.log(`replace ${s.id}: ${await replaceInstance(c, s, membershipBudgetMs)} (now ${s.id})`);
    }
    await sleep(Math.max(0, holdUntil - Date.now()));
    await c.lab.heal();
    if (s !== undefined) await this.healSlot(s);
    await sleep(step.quietMs);
  }

  /** Brings a slot back: resumes it, restarts a killed process, finishes a replacement. */
  async healSlot(s: Slot): Promise<void> {
    const c = this.cluster;
    c.resume(s);
    if (s.child === undefined && s.role !== 'none' && !s.removing) await c.start(s);
    if (s.role !== 'voter' && !(await completeReplacement(c, s, membershipBudgetMs))) this.log(`slot ${s.slot}: ${s.id} is not a voter yet (${s.role})`);
  }

  /**
   * Heals everything and waits for a leader; with `sameRevision` (once the clients are stopped)
   * also until every member has applied the same revision.
   */
  async converge(sameRevision: boolean): Promise<void> {
    const c = this.cluster;
    await c.lab.heal();
    for (const s of c.slots) await this.healSlot(s);
    const deadline = Date.now() + convergeTimeoutMs;
    for (;;) {
      const st = await Promise.all(c.live().map((s) => c.call<StatusReply>(s, 'status', {}, 2_000).catch(() => undefined)));
      const revisions = new Set(st.map((x) => x?.revision));
      if (st.some((x) => x?.role === 'leader') && (!sameRevision || (revisions.size === 1 && !revisions.has(undefined)))) return;
      if (Date.now() > deadline) throw new Error(`nemesis: the members did not converge within ${convergeTimeoutMs} ms: ${JSON.stringify(st)}`);
      await sleep(200);
    }
  }
}

/** The final history read from every live member; a violation when two members disagree. */
async function finalHistory(cluster: NemesisCluster, violations: string[]): Promise<WatchedEvent[]> {
  let reference: { id: string; events: WatchedEvent[] } | undefined;
  for (const s of cluster.live()) {
    const h = await cluster.call<{ events?: WatchedEvent[]; compacted?: true }>(s, 'history', {}, 30_000);
    if (h.events === undefined) continue;
    if (reference === undefined) reference = { id: s.id, events: h.events };
    else if (JSON.stringify(h.events) !== JSON.stringify(reference.events)) violations.push(`members ${reference.id} and ${s.id} hold different histories`);
  }
  if (reference === undefined) throw new Error('nemesis: no member could read the full history');
  return reference.events;
}

function check(recorder: HistoryRecorder, history: WatchedEvent[], budgetMs: number, violations: string[], undecided: string[]): PartitionResult[] {
  const partitions = checkHistory(recorder.history(), { maxMs: budgetMs });
  for (const p of partitions) {
    const r = p.result;
    if (r.kind === 'violation') violations.push(`${p.name}: not linearizable — no order places ${JSON.stringify(r.blockedOp)} after ${r.linearizedBefore} ops`);
    if (r.kind === 'unknown') undecided.push(`${p.name}: ${r.reason} (${r.ops} ops)`);
  }
  for (const v of checkWatchStreams(recorder.streams(), history)) violations.push(`watch of ${v.process}: ${v.message}`);
  return partitions;
}

export async function runNemesis(options: NemesisOptions): Promise<NemesisSummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  await removeStaleNamespaces();
  const lab = await NetLab.create(process.pid.toString(36), options.members ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'qkv-nemesis-'));
  const recorder = new HistoryRecorder(prefix);
  const cluster = new NemesisCluster(lab, dir, recorder, timing, { seed: options.seed, prefix, readConsistency: options.unsafeReads === true ? 'serializable' : 'linearizable' });
  const run = new Run(cluster, log);
  const stop = (): void =>
    void cluster
      .killAll()
      .finally(() => lab.destroy())
      .finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(130);
      });
  process.once('SIGINT', stop);
  try {
    await Promise.all(cluster.slots.map((s) => cluster.start(s)));
    await run.converge(true);
    cluster.clientsRunning = true;
    await Promise.all(cluster.live().map((s) => cluster.call(s, 'start')));
    run.log(`seed ${options.seed}: ${cluster.slots.length} members, faults for ${options.seconds} s`);
    const random = seededRandom(options.seed);
    const deadline = Date.now() + options.seconds * 1000;
    while (Date.now() < deadline) await run.step(nextStep(random, cluster.slots.length));
    await run.converge(false);
    cluster.clientsRunning = false;
    await Promise.all(cluster.live().map((s) => cluster.call(s, 'stop', {}, 15_000).then(() => recorder.finish(processName(s)))));
    await run.converge(true);
    const violations: string[] = [];
    const undecided: string[] = [];
    const history = await finalHistory(cluster, violations);
    const partitions = check(recorder, history, options.checkBudgetMs ?? 60_000, violations, undecided);
    const streams = recorder.streams();
    if ((violations.length > 0 || undecided.length > 0) && options.keepHistories !== false) {
      // Kept for study: the recorded calls, the watch streams and the final history.
      const file = join(tmpdir(), `qkv-nemesis-${options.seed}-${process.pid}.json`);
      writeFileSync(file, JSON.stringify({ history: recorder.history(), streams, final: history }));
      violations.push(`(the histories are in ${file})`);
    }
    return {
      seed: options.seed,
      seconds: options.seconds,
      calls: recorder.counts(),
      faults: run.faults,
      partitions,
      watchStreams: streams.length,
      watchEvents: streams.reduce((n, s) => n + s.events.length, 0),
      historyEvents: history.length,
      violations,
      undecided,
    };
  } finally {
    process.off('SIGINT', stop);
    await Promise.all(cluster.live().map((s) => cluster.call(s, 'close', {}, 5_000).catch(() => {})));
    await cluster.killAll();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
