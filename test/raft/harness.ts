/**
 * A small in-process harness for scenario tests of the Raft core: an in-memory LogStorage, a
 * trivial state machine (the list of applied entry payloads) and a message queue between
 * RawNodes with partitions and drop filters. Everything is synchronous and deterministic.
 */
import { RawNode } from '../../src/raft/raw-node.ts';
import { bootstrapBatch } from '../../src/raft/conf-change.ts';
import { LogCompactedError, LogUnavailableError } from '../../src/raft/types.ts';
import type { LogStorage, RaftConfig, Ready } from '../../src/raft/types.ts';
import {
  EMPTY_SNAPSHOT,
  type ConfState,
  type Entry,
  type HardState,
  type LogIndex,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
  type Term,
} from '../../src/protocol/types.ts';

export const enc = new TextEncoder();
export const dec = new TextDecoder();

/** The seeded PRNG every test shares (mulberry32, src/transport/random.ts). */
import { seededRandom as mulberry32 } from '../helpers/random.ts';
export { mulberry32 };

/** In-memory LogStorage: a snapshot plus the entries after it, all "durable" at once. */
export class MemStorage implements LogStorage {
  hardState: HardState = { term: 0, vote: '', commit: 0 };
  snap: Snapshot;
  ents: Entry[] = [];

  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.snap = { meta: { index: 0, term: 0, confState: conf }, data: new Uint8Array(0) };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.meta.confState };
  }
  firstIndex(): LogIndex {
    return this.snap.meta.index + 1;
  }
  lastIndex(): LogIndex {
    return this.snap.meta.index + this.ents.length;
  }
  term(index: LogIndex): Term {
    if (index < this.snap.meta.index) throw new LogCompactedError(index);
    if (index === this.snap.meta.index) return this.snap.meta.term;
    if (index > this.lastIndex()) throw new LogUnavailableError(index);
    return (this.ents[index - this.snap.meta.index - 1] as Entry).term;
  }
  entries(lo: LogIndex, hi: LogIndex, maxBytes: number): Entry[] {
    if (lo <= this.snap.meta.index) throw new LogCompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.snap.meta.index - 1] as Entry;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }
  snapshot(): Snapshot {
    return this.snap;
  }
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index > this.lastIndex() + 1) throw new Error(`storage: gap appending ${first.index} after ${this.lastIndex()}`);
    this.ents.length = Math.max(0, first.index - this.snap.meta.index - 1);
    for (const e of entries) this.ents.push(e);
  }
  applySnapshot(snap: Snapshot): void {
    this.snap = snap;
    this.ents = [];
  }
  /** The application took a snapshot at `index` (must be applied); compacts entries before `keepFrom`. */
  createSnapshot(index: LogIndex, conf: ConfState, data: Uint8Array): void {
    const term = this.term(index);
    const keep = this.ents.slice(index - this.snap.meta.index);
    this.snap = { meta: { index, term, confState: conf }, data };
    this.ents = keep;
  }
}

export interface Applied {
  readonly index: LogIndex;
  readonly term: Term;
  readonly data: string;
  readonly type: Entry['type'];
}

export class TestNode {
  readonly id: NodeId;
  readonly storage: MemStorage;
  readonly config: Omit<RaftConfig, 'storage' | 'id' | 'applied'>;
  raw: RawNode;
  /** The state machine: payloads of applied normal entries (empty ones skipped). */
  state: string[] = [];
  applied: Applied[] = [];
  appliedIndex: LogIndex = 0;
  readStates: ReadState[] = [];
  droppedReads: Uint8Array[] = [];
  readies: Ready[] = [];

  constructor(id: NodeId, storage: MemStorage, config: Omit<RaftConfig, 'storage' | 'id' | 'applied'>) {
    this.id = id;
    this.storage = storage;
    this.config = config;
    this.raw = new RawNode({ ...config, id, storage });
  }

  /** Crash + restart from storage: the state machine restarts from the snapshot. */
  restart(): void {
    const snap = this.storage.snapshot();
    this.state = snap.meta.index > 0 ? (JSON.parse(dec.decode(snap.data)) as string[]) : [];
    this.appliedIndex = snap.meta.index;
    this.raw = new RawNode({ ...this.config, id: this.id, storage: this.storage, applied: snap.meta.index });
  }

  /** Takes an application snapshot at the applied index and compacts the log up to it. */
  compact(): void {
    const conf = this.raw.status().confState;
    this.storage.createSnapshot(this.appliedIndex, conf, enc.encode(JSON.stringify(this.state)));
  }

  /** Handles one Ready in the documented order; returns the outgoing messages. */
  handleReady(): Message[] {
    const rd = this.raw.ready();
    this.readies.push(rd);
    if (this.readies.length > 50) this.readies.shift();
    const out: Message[] = [...rd.messages];
    if (rd.snapshot !== undefined) this.storage.applySnapshot(rd.snapshot);
    this.storage.append(rd.entries);
    if (rd.hardState !== undefined) this.storage.hardState = rd.hardState;
    out.push(...rd.messagesAfterPersist);
    if (rd.snapshot !== undefined) {
      this.state = JSON.parse(dec.decode(rd.snapshot.data)) as string[];
      this.appliedIndex = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index !== this.appliedIndex + 1) throw new Error(`${this.id}: applying ${e.index} after ${this.appliedIndex}`);
      this.appliedIndex = e.index;
      const data = e.type === 'normal' ? dec.decode(e.data) : `conf:${e.index}`;
      this.applied.push({ index: e.index, term: e.term, data, type: e.type });
      if (e.type === 'normal' && e.data.length > 0) this.state.push(data);
    }
    this.readStates.push(...rd.readStates);
    this.droppedReads.push(...rd.droppedReads);
    this.raw.advance();
    return out;
  }
}

export interface ClusterOptions extends Partial<Omit<RaftConfig, 'storage' | 'id' | 'applied'>> {
  readonly learners?: readonly NodeId[];
  readonly seed?: number;
  /** Start from bootstrapBatch() log entries instead of a conf state in storage. */
  readonly bootstrap?: boolean;
}

export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Directed links that drop everything: `${from}->${to}`. */
  readonly cut = new Set<string>();
  readonly down = new Set<NodeId>();
  /** Optional extra filter: return false to drop a message. */
  filter: ((m: Message) => boolean) | undefined;
  delivered: Message[] = [];
  readonly options: ClusterOptions;
  readonly random: () => number;

  constructor(voters: readonly NodeId[], options: ClusterOptions = {}) {
    this.options = options;
    this.random = mulberry32(options.seed ?? 1);
    const conf: ConfState = { voters: [...voters], learners: [...(options.learners ?? [])] };
    for (const id of [...voters, ...(options.learners ?? [])]) {
      if (options.bootstrap === true) {
        const batch = bootstrapBatch(voters);
        const s = new MemStorage();
        s.append(batch.entries);
        s.hardState = batch.hardState;
        this.add(id, s);
      } else {
        this.add(id, new MemStorage(conf));
      }
    }
  }

  add(id: NodeId, storage: MemStorage): TestNode {
    const { learners: _l, seed: _s, bootstrap: _b, ...config } = this.options;
    const n = new TestNode(id, storage, { random: this.random, ...config });
    this.nodes.set(id, n);
    return n;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  raw(id: NodeId): RawNode {
    return this.node(id).raw;
  }

  /** Drains every Ready and delivers messages until quiet (bounded). */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const n of this.nodes.values()) {
        if (this.down.has(n.id)) continue;
        while (n.raw.hasReady()) {
          busy = true;
          this.queue.push(...n.handleReady());
        }
      }
      if (this.queue.length > 0) {
        busy = true;
        this.deliverAll();
      }
      if (!busy) return;
    }
    throw new Error('cluster did not stabilize');
  }

  deliverAll(): void {
    const q = this.queue;
    this.queue = [];
    for (const m of q) this.deliver(m);
  }

  deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    const lost =
      n === undefined ||
      this.down.has(m.to) ||
      this.down.has(m.from) ||
      this.cut.has(`${m.from}->${m.to}`) ||
      (this.filter !== undefined && !this.filter(m));
    // The driver reports a snapshot's fate to the leader (RawNode.reportSnapshot).
    if (m.type === 'snapshot' && !this.down.has(m.from)) this.nodes.get(m.from)?.raw.reportSnapshot(m.to, !lost);
    if (lost || n === undefined) return;
    this.delivered.push(m);
    if (this.delivered.length > 10_000) this.delivered = this.delivered.slice(-5000);
    n.raw.step(m);
  }

  tick(ids: Iterable<NodeId> = this.nodes.keys(), n = 1): void {
    for (let i = 0; i < n; i++) for (const id of ids) if (!this.down.has(id)) this.node(id).raw.tick();
  }

  /** Ticks everyone and stabilizes after each tick. */
  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      this.tick();
      this.stabilize();
    }
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  partition(...groups: NodeId[][]): void {
    for (const g of groups) {
      for (const a of g) {
        for (const b of this.nodes.keys()) if (!g.includes(b)) {
          this.cut.add(`${a}->${b}`);
          this.cut.add(`${b}->${a}`);
        }
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => !this.down.has(n.id) && n.raw.status().role === 'leader').map((n) => n.id);
  }

  leader(): NodeId | undefined {
    const ls = this.leaders();
    if (ls.length === 0) return undefined;
    // With stale leaders around, the one with the highest term is the real one.
    return ls.sort((a, b) => this.raw(b).status().term - this.raw(a).status().term)[0];
  }

  /** Makes `id` campaign and settles the cluster. */
  elect(id: NodeId): void {
    this.raw(id).campaign();
    this.stabilize();
  }

  propose(id: NodeId, data: string): void {
    this.raw(id).propose(enc.encode(data));
    this.stabilize();
  }

  /** Ticks until some member leads (bounded). */
  waitLeader(maxTicks = 200): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      this.run(1);
    }
    throw new Error('no leader elected');
  }
}

export { EMPTY_SNAPSHOT };

/** A storage whose log holds one entry per term in `terms` (index i + 1 has term terms[i]). */
export function storageWithLog(conf: ConfState, terms: readonly Term[], hard: Partial<HardState> = {}): MemStorage {
  const s = new MemStorage(conf);
  s.append(terms.map((term, i) => ({ term, index: i + 1, type: 'normal' as const, data: enc.encode(`t${term}i${i + 1}`) })));
  s.hardState = { term: hard.term ?? terms[terms.length - 1] ?? 0, vote: hard.vote ?? '', commit: hard.commit ?? 0 };
  return s;
}

/** Builds a cluster whose members start from the given logs. */
export function clusterWithLogs(
  logs: Readonly<Record<NodeId, { terms: readonly Term[]; hard?: Partial<HardState> }>>,
  options: ClusterOptions = {},
): Cluster {
  const c = new Cluster([], options);
  const voters = Object.keys(logs);
  for (const id of voters) {
    const spec = logs[id] as { terms: readonly Term[]; hard?: Partial<HardState> };
    const node = c.add(id, storageWithLog({ voters, learners: [] }, spec.terms, spec.hard ?? {}));
    node.appliedIndex = spec.hard?.commit ?? 0;
    node.restart();
  }
  return c;
}

/** The terms of a member's persisted log. */
export function logTerms(n: TestNode): Term[] {
  return n.storage.ents.map((e) => e.term);
}

/** A message-building helper for step() tests. */
export function msg(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...m };
}
