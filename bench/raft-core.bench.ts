/**
 * Raft core throughput: a 3-member cluster of pure RawNodes, messages handed from one core to the
 * next in memory, storage in memory (no I/O, no encoding). The leader proposes a batch of
 * 100-byte entries per round; the round ends when the leader has applied all of them (each one
 * committed by a quorum: the leader persisted it and a follower acknowledged it). Reports the
 * median of several timed runs of committed entries per second.
 *
 * Run: npm run bench:raft   (options: --batch 256,1024 --runs 5 --ms 1000)
 */
import type { Message, NodeId } from '../src/protocol/types.ts';
import { bootstrapBatch } from '../src/raft/conf-change.ts';
import { RawNode } from '../src/raft/raw-node.ts';
import { Prng } from '../test/sim/prng.ts';
import { SimStorage } from '../test/sim/sim-storage.ts';
import { median, spread } from './stats.ts';

const ENTRY_BYTES = 100;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

interface Member {
  readonly id: NodeId;
  readonly storage: SimStorage;
  readonly core: RawNode;
}

class Cluster {
  readonly members: Member[];
  readonly #byId = new Map<NodeId, Member>();
  #inbox: Message[] = [];
  leaderApplied = 0;

  constructor(seed: number) {
    const ids = ['n1', 'n2', 'n3'];
    const batch = bootstrapBatch(ids);
    const rng = new Prng(seed);
    this.members = ids.map((id) => {
      const storage = new SimStorage({ voters: [], learners: [] });
      storage.persist(undefined, batch.entries, batch.hardState);
      const random = rng.fork();
      const core = new RawNode({ id, storage, random: () => random.next() });
      const m = { id, storage, core };
      this.#byId.set(id, m);
      return m;
    });
    (this.members[0] as Member).core.campaign();
    this.pump();
    if ((this.members[0] as Member).core.status().role !== 'leader') throw new Error('bench: n1 did not become leader');
  }

  get leader(): Member {
    return this.members[0] as Member;
  }

  /** Runs every member's Ready loop and delivers messages until the cluster is quiet. */
  pump(): void {
    for (;;) {
      let progressed = false;
      for (const m of this.members) {
        while (m.core.hasReady()) {
          progressed = true;
          const rd = m.core.ready();
          for (const msg of rd.messages) this.#inbox.push(msg);
          m.storage.persist(rd.snapshot, rd.entries, rd.hardState);
          for (const msg of rd.messagesAfterPersist) this.#inbox.push(msg);
          if (m === this.leader && rd.committedEntries.length > 0) {
            this.leaderApplied = (rd.committedEntries[rd.committedEntries.length - 1] as { index: number }).index;
          }
          m.core.advance();
        }
      }
      if (this.#inbox.length > 0) {
        progressed = true;
        const inbox = this.#inbox;
        this.#inbox = [];
        for (const msg of inbox) this.#byId.get(msg.to)?.core.step(msg);
      }
      if (!progressed) return;
    }
  }

  /** Keeps memory flat: each member snapshots at its applied index and drops the log before it. */
  compact(): void {
    for (const m of this.members) {
      const st = m.core.status();
      if (st.applied - m.storage.firstIndex() > 20_000) m.storage.compact(st.applied, st.confState, new Uint8Array(0));
    }
  }
}

interface Rate {
  /** Committed entries per wall-clock second. */
  readonly wall: number;
  /** Committed entries per second of this process's CPU time (robust when the machine is shared). */
  readonly cpu: number;
}

function runOnce(batchSize: number, durationMs: number, seed: number): Rate {
  const cluster = new Cluster(seed);
  const payload = new Uint8Array(ENTRY_BYTES).fill(7);
  // Warm-up rounds, untimed.
  for (let r = 0; r < 50; r++) {
    for (let k = 0; k < batchSize; k++) cluster.leader.core.propose(payload);
    cluster.pump();
  }
  const startApplied = cluster.leaderApplied;
  const cpuStarted = process.cpuUsage();
  const started = performance.now();
  let elapsed = 0;
  let rounds = 0;
  while (elapsed < durationMs) {
    for (let k = 0; k < batchSize; k++) cluster.leader.core.propose(payload);
    cluster.pump();
    if (++rounds % 8 === 0) cluster.compact();
    elapsed = performance.now() - started;
  }
  const cpu = process.cpuUsage(cpuStarted);
  // Sanity: the figure counts only what really committed — every member agrees on the commit.
  const last = cluster.leader.core.status().lastIndex;
  for (const m of cluster.members) {
    const st = m.core.status();
    if (st.commit !== last) throw new Error(`bench: ${m.id} commit ${st.commit} != leader last index ${last}`);
  }
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const committed = cluster.leaderApplied - startApplied;
  return { wall: (committed / elapsed) * 1000, cpu: (committed / cpuMs) * 1000 };
}


const batches = arg('--batch', '256,1024').split(',').map(Number);
const runs = Number(arg('--runs', '5'));
const durationMs = Number(arg('--ms', '1000'));
console.log(`raft core: 3 members in memory, ${ENTRY_BYTES}-byte entries, ${runs} runs of ${durationMs} ms per batch size (node ${process.version})`);
for (const batch of batches) {
  const rates: Rate[] = [];
  for (let r = 0; r < runs; r++) rates.push(runOnce(batch, durationMs, r + 1));
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  const wall = rates.map((r) => r.wall);
  const cpu = rates.map((r) => r.cpu);
  console.log(
    `batch ${String(batch).padStart(5)}: median ${fmt(median(wall))} committed entries/s wall-clock ` +
      `(min ${fmt(spread(wall).min)}, max ${fmt(spread(wall).max)}); median ${fmt(median(cpu))}/s per CPU-second`,
  );
}
