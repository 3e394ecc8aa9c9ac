/**
 * An in-process simulated network (docs/design.md, "Transport") that many members in one process attach to.
 *
 * Every fault is drawn from one seeded generator in the order messages are sent, so a run driven
 * by the simulator (`mode: 'manual'`) replays exactly from its seed. In `'realtime'` mode the same
 * deliveries are released by timers (a microtask when the delay is zero), which suits in-process
 * clusters in examples, the demo and integration tests.
 *
 * Messages are deep-copied at send time (and again for a duplicate; copy-message.ts), so members
 * never share mutable state. Per-link FIFO order holds unless a message is picked for reordering.
 */
import type { NodeId, PeerMessage } from '../protocol/types.ts';
import type { Transport, TransportHandlers } from './types.ts';
import { InvalidArgumentError } from '../errors.ts';
import { seededRandom } from './random.ts';
import { copyMessage } from './copy-message.ts';

/** Faults applied to one direction of a link. Every field can be changed at runtime. */
export interface LinkFaults {
  /** Probability in [0, 1] that a message is lost. @default 0 */
  readonly dropRate: number;
  /** Uniform delivery delay range `[min, max]` in ms (virtual ms in manual mode). @default [0, 0] */
  readonly delayMs: readonly [number, number];
  /** Probability in [0, 1] that a message is delivered twice. @default 0 */
  readonly duplicateRate: number;
  /**
   * Probability in [0, 1] that a message escapes per-link FIFO order: it gets an independent
   * delay in `[0, 2 * delayMax + 1]` ms and may overtake or be overtaken. @default 0
   */
  readonly reorderRate: number;
}

export interface MemoryNetworkOptions {
  /** Seed of the fault generator; the same seed and the same sends give the same run. @default 1 */
  readonly seed?: number;
  /**
   * `'realtime'`: deliveries are released by timers. `'manual'`: they wait in a queue until the
   * simulator calls {@link MemoryNetwork.step}, {@link MemoryNetwork.advance} or
   * {@link MemoryNetwork.deliverAll}. @default 'realtime'
   */
  readonly mode?: 'realtime' | 'manual';
}

/** Counters since the network was created. */
export interface MemoryNetworkStats {
  sent: number;
  delivered: number;
  /** Lost to `dropRate`. */
  dropped: number;
  /** Lost to a cut, partition, isolation, or a detached/unknown receiver. */
  blocked: number;
  duplicated: number;
}

const NO_FAULTS: LinkFaults = Object.freeze({ dropRate: 0, delayMs: Object.freeze([0, 0]) as readonly [number, number], duplicateRate: 0, reorderRate: 0 });

/** Consecutive zero-delay microtask drains before one macrotask turn lets I/O and timers run. */
const MAX_MICROTASK_DRAINS = 1000;

/** One attached member (internal to the network and its transports). */
export interface MemoryEndpoint {
  readonly id: NodeId;
  readonly handlers: TransportHandlers;
  /** Peers this member forgot with `removePeer`: traffic from and to them is dropped. */
  readonly removed: Set<NodeId>;
  attached: boolean;
}

type NetEvent =
  | { readonly kind: 'deliver'; readonly due: number; readonly seq: number; readonly from: MemoryEndpoint; readonly to: NodeId; readonly message: PeerMessage }
  | { readonly kind: 'unreachable'; readonly due: number; readonly seq: number; readonly owner: MemoryEndpoint; readonly peer: NodeId }
  | { readonly kind: 'snapshotStatus'; readonly due: number; readonly seq: number; readonly owner: MemoryEndpoint; readonly peer: NodeId; readonly delivered: boolean }
  | { readonly kind: 'connectionLost'; readonly due: number; readonly seq: number; readonly owner: MemoryEndpoint; readonly peer: NodeId };

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}

function checkRate(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!(value >= 0 && value <= 1)) throw new RangeError(`memory transport: ${name} must be in [0, 1], got ${value}`);
}

function checkFaults(faults: Partial<LinkFaults>): void {
  checkRate('dropRate', faults.dropRate);
  checkRate('duplicateRate', faults.duplicateRate);
  checkRate('reorderRate', faults.reorderRate);
  if (faults.delayMs !== undefined) {
    const [min, max] = faults.delayMs;
    if (!(Number.isFinite(min) && Number.isFinite(max) && min >= 0 && max >= min)) {
      throw new RangeError(`memory transport: delayMs must be [min, max] with 0 <= min <= max, got [${min}, ${max}]`);
    }
  }
}

/** A binary min-heap of events ordered by (due, seq). */
class EventHeap {
  readonly #items: NetEvent[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): NetEvent | undefined {
    return this.#items[0];
  }

  push(ev: NetEvent): void {
    const a = this.#items;
    a.push(ev);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!EventHeap.#less(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): NetEvent | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && EventHeap.#less(a[l]!, a[m]!)) m = l;
      if (r < a.length && EventHeap.#less(a[r]!, a[m]!)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
    return top;
  }

  clear(): void {
    this.#items.length = 0;
  }

  static #less(x: NetEvent, y: NetEvent): boolean {
    return x.due < y.due || (x.due === y.due && x.seq < y.seq);
  }
}

export class MemoryNetwork {
  readonly mode: 'realtime' | 'manual';
  readonly seed: number;
  readonly stats: MemoryNetworkStats = { sent: 0, delivered: 0, dropped: 0, blocked: 0, duplicated: 0 };
  readonly #random: () => number;
  readonly #endpoints = new Map<NodeId, MemoryEndpoint>();
  readonly #linkFaults = new Map<string, LinkFaults>();
  readonly #cuts = new Set<string>();
  readonly #isolated = new Set<NodeId>();
  /** Latest due time per link, so FIFO deliveries never overtake each other. */
  readonly #lastDue = new Map<string, number>();
  readonly #heap = new EventHeap();
  readonly #origin = performance.now();
  #defaults: LinkFaults = NO_FAULTS;
  #seq = 0;
  /** Virtual clock of manual mode, in ms. */
  #virtualNowMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerDueMs = Infinity;
  #drainQueued = false;
  #microtaskDrains = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    const seed = options.seed ?? 1;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`memory transport: seed must be a safe integer, got ${seed}`);
    const mode = options.mode ?? 'realtime';
    if (mode !== 'realtime' && mode !== 'manual') throw new RangeError(`memory transport: mode must be 'realtime' or 'manual', got ${String(mode)}`);
    this.seed = seed;
    this.mode = mode;
    this.#random = seededRandom(seed);
  }

  /** Current time of the network in ms: virtual in manual mode, since creation in realtime mode. */
  get nowMs(): number {
    return this.mode === 'manual' ? this.#virtualNowMs : performance.now() - this.#origin;
  }

  /** Ids of the members currently attached. */
  members(): NodeId[] {
    return [...this.#endpoints.keys()];
  }

  /** Sets the faults of every link that has no override of its own. */
  setFaults(faults: Partial<LinkFaults>): void {
    checkFaults(faults);
    this.#defaults = Object.freeze({ ...this.#defaults, ...faults });
  }

  /** Overrides the faults of one direction `from → to` (fields not given keep the defaults). */
  setLinkFaults(from: NodeId, to: NodeId, faults: Partial<LinkFaults>): void {
    checkFaults(faults);
    const key = linkKey(from, to);
    this.#linkFaults.set(key, Object.freeze({ ...(this.#linkFaults.get(key) ?? this.#defaults), ...faults }));
  }

  /** Removes every fault (defaults and per-link overrides). Cuts stay until {@link heal}. */
  clearFaults(): void {
    this.#defaults = NO_FAULTS;
    this.#linkFaults.clear();
  }

  /** Symmetric partition: no message crosses between any member of `groupA` and any of `groupB`. */
  partition(groupA: readonly NodeId[], groupB: readonly NodeId[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.#cuts.add(linkKey(a, b));
        this.#cuts.add(linkKey(b, a));
      }
    }
  }

  /** Asymmetric cut: messages `from → to` are lost; `to → from` still flows. */
  cut(from: NodeId, to: NodeId): void {
    this.#cuts.add(linkKey(from, to));
  }

  /** Cuts every link to and from `id`, including members that attach later. */
  isolate(id: NodeId): void {
    this.#isolated.add(id);
  }

  /** Removes every cut, partition and isolation. Drop/delay/duplicate/reorder faults stay. */
  heal(): void {
    this.#cuts.clear();
    this.#isolated.clear();
  }

  /** Whether messages `from → to` are currently blocked by a cut, partition or isolation. */
  isCut(from: NodeId, to: NodeId): boolean {
    return this.#isolated.has(from) || this.#isolated.has(to) || this.#cuts.has(linkKey(from, to));
  }

  /** Events (deliveries and notifications) waiting to be released. */
  pending(): number {
    return this.#heap.size;
  }

  /** Manual mode: releases the earliest pending event, moving the virtual clock to its due time. */
  step(): boolean {
    this.#assertManual('step');
    const ev = this.#heap.pop();
    if (ev === undefined) return false;
    this.#virtualNowMs = Math.max(this.#virtualNowMs, ev.due);
    this.#process(ev);
    return true;
  }

  /**
   * Manual mode: releases events until none is pending or `maxEvents` were released (handlers that
   * answer synchronously could otherwise ping-pong forever). Returns how many were released.
   */
  deliverAll(maxEvents = 100_000): number {
    this.#assertManual('deliverAll');
    let released = 0;
    while (released < maxEvents && this.step()) released++;
    return released;
  }

  /** Manual mode: moves the virtual clock forward by `ms`, releasing every event due by then. */
  advance(ms: number): number {
    this.#assertManual('advance');
    if (!(ms >= 0)) throw new RangeError(`memory transport: advance(ms) needs ms >= 0, got ${ms}`);
    const target = this.#virtualNowMs + ms;
    let released = 0;
    for (let ev = this.#heap.peek(); ev !== undefined && ev.due <= target; ev = this.#heap.peek()) {
      this.step();
      released++;
    }
    this.#virtualNowMs = target;
    return released;
  }

  /** Drops every pending event and stops the timer (end of a test). Attached members stay. */
  clearPending(): void {
    this.#heap.clear();
    this.#lastDue.clear();
    this.#cancelTimer();
  }

  /** Attaches a member; used by {@link memoryTransport}. */
  attach(id: NodeId, handlers: TransportHandlers): MemoryEndpoint {
    if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError('transport: member id must be a non-empty string');
    if (this.#endpoints.has(id)) throw new InvalidArgumentError(`transport: member ${id} is already attached to this network`);
    const endpoint: MemoryEndpoint = { id, handlers, removed: new Set(), attached: true };
    this.#endpoints.set(id, endpoint);
    return endpoint;
  }

  /**
   * Detaches member `id` as if its process were killed: nothing more reaches it or leaves it,
   * and the others hear its connections close (onConnectionLost). Its node keeps running in this
   * process, unreachable; close it when the test is done. False when no such member is attached.
   */
  kill(id: NodeId): boolean {
    const endpoint = this.#endpoints.get(id);
    if (endpoint === undefined) return false;
    this.detach(endpoint);
    return true;
  }

  /** Detaches a member; events still queued for it are dropped when they come due. */
  detach(endpoint: MemoryEndpoint): void {
    endpoint.attached = false;
    if (this.#endpoints.get(endpoint.id) !== endpoint) return;
    this.#endpoints.delete(endpoint.id);
    // Like a stopped process's sockets closing: the others hear of it, as an event of the network
    // (a microtask in realtime mode, step() in manual mode), unless a partition or cut already
    // separated them (a dead link carries no close either).
    for (const other of this.#endpoints.values()) {
      if (!other.removed.has(endpoint.id) && !this.isCut(endpoint.id, other.id)) this.#notify({ kind: 'connectionLost', owner: other, peer: endpoint.id });
    }
  }

  /** Sends from an attached member; used by {@link memoryTransport}. */
  send(from: MemoryEndpoint, to: NodeId, messages: readonly PeerMessage[]): void {
    if (!from.attached) return;
    let unreachable = false;
    for (const message of messages) {
      this.stats.sent++;
      const isSnapshot = message.type === 'snapshot';
      if (!this.#canDeliver(from, to)) {
        this.stats.blocked++;
        unreachable = true;
        if (isSnapshot) this.#notify({ kind: 'snapshotStatus', owner: from, peer: to, delivered: false });
        continue;
      }
      const faults = this.#faultsFor(from.id, to);
      if (faults.dropRate > 0 && this.#random() < faults.dropRate) {
        this.stats.dropped++;
        if (isSnapshot) this.#notify({ kind: 'snapshotStatus', owner: from, peer: to, delivered: false });
        continue;
      }
      const copies = faults.duplicateRate > 0 && this.#random() < faults.duplicateRate ? 2 : 1;
      if (copies === 2) this.stats.duplicated++;
      for (let i = 0; i < copies; i++) {
        const due = this.#dueFor(from.id, to, faults);
        this.#push({ kind: 'deliver', due, seq: this.#seq++, from, to, message: copyMessage(message) });
      }
    }
    if (unreachable) this.#notify({ kind: 'unreachable', owner: from, peer: to });
  }

  #canDeliver(from: MemoryEndpoint, to: NodeId): boolean {
    const target = this.#endpoints.get(to);
    if (target === undefined || !target.attached) return false;
    if (from.removed.has(to) || target.removed.has(from.id)) return false;
    return !this.isCut(from.id, to);
  }

  #faultsFor(from: NodeId, to: NodeId): LinkFaults {
    return this.#linkFaults.get(linkKey(from, to)) ?? this.#defaults;
  }

  #dueFor(from: NodeId, to: NodeId, faults: LinkFaults): number {
    const now = this.nowMs;
    const [min, max] = faults.delayMs;
    if (faults.reorderRate > 0 && this.#random() < faults.reorderRate) {
      return now + this.#random() * (2 * max + 1);
    }
    const delay = max > min ? min + this.#random() * (max - min) : min;
    const key = linkKey(from, to);
    const due = Math.max(now + delay, this.#lastDue.get(key) ?? 0);
    this.#lastDue.set(key, due);
    return due;
  }

  #notify(
    ev:
      | { kind: 'unreachable' | 'connectionLost'; owner: MemoryEndpoint; peer: NodeId }
      | { kind: 'snapshotStatus'; owner: MemoryEndpoint; peer: NodeId; delivered: boolean },
  ): void {
    this.#push({ ...ev, due: this.nowMs, seq: this.#seq++ });
  }

  #push(ev: NetEvent): void {
    this.#heap.push(ev);
    if (this.mode === 'realtime') this.#schedule();
  }

  #process(ev: NetEvent): void {
    if (ev.kind === 'unreachable') {
      if (ev.owner.attached) ev.owner.handlers.onUnreachable(ev.peer);
      return;
    }
    if (ev.kind === 'snapshotStatus') {
      if (ev.owner.attached) ev.owner.handlers.onSnapshotStatus?.(ev.peer, ev.delivered);
      return;
    }
    if (ev.kind === 'connectionLost') {
      if (ev.owner.attached) ev.owner.handlers.onConnectionLost?.(ev.peer);
      return;
    }
    const isSnapshot = ev.message.type === 'snapshot';
    if (!ev.from.attached) return;
    if (!this.#canDeliver(ev.from, ev.to)) {
      // The link went down while the message was in flight: lost, as on a real network.
      this.stats.blocked++;
      this.#notify({ kind: 'unreachable', owner: ev.from, peer: ev.to });
      if (isSnapshot) this.#notify({ kind: 'snapshotStatus', owner: ev.from, peer: ev.to, delivered: false });
      return;
    }
    const target = this.#endpoints.get(ev.to);
    if (target === undefined) return;
    this.stats.delivered++;
    target.handlers.onMessages(ev.from.id, [ev.message]);
    if (isSnapshot) this.#notify({ kind: 'snapshotStatus', owner: ev.from, peer: ev.to, delivered: true });
  }

  #schedule(): void {
    const head = this.#heap.peek();
    if (head === undefined) return;
    const waitMs = head.due - this.nowMs;
    if (waitMs <= 0) {
      if (this.#drainQueued) return;
      this.#drainQueued = true;
      if (this.#microtaskDrains++ < MAX_MICROTASK_DRAINS) queueMicrotask(() => this.#drain());
      else setImmediate(() => this.#drain());
      return;
    }
    if (this.#timer !== undefined && this.#timerDueMs <= head.due) return;
    this.#cancelTimer();
    this.#timerDueMs = head.due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDueMs = Infinity;
      this.#microtaskDrains = 0;
      this.#drain();
    }, Math.ceil(waitMs));
    this.#timer.unref();
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDueMs = Infinity;
  }

  /** Realtime mode: releases every event due now that existed when the drain began. */
  #drain(): void {
    this.#drainQueued = false;
    const seqLimit = this.#seq;
    const now = this.nowMs;
    for (let ev = this.#heap.peek(); ev !== undefined && ev.due <= now && ev.seq < seqLimit; ev = this.#heap.peek()) {
      this.#heap.pop();
      this.#process(ev);
    }
    if (this.#microtaskDrains >= MAX_MICROTASK_DRAINS && !this.#drainQueued) {
      setImmediate(() => {
        this.#microtaskDrains = 0;
      });
    }
    this.#schedule();
  }

  #assertManual(what: string): void {
    if (this.mode !== 'manual') throw new InvalidArgumentError(`transport: ${what}() needs a MemoryNetwork in 'manual' mode`);
  }
}

class MemoryTransport implements Transport {
  readonly #network: MemoryNetwork;
  #endpoint: MemoryEndpoint | undefined;

  constructor(network: MemoryNetwork) {
    this.#network = network;
  }

  async start(self: NodeId, handlers: TransportHandlers): Promise<void> {
    if (this.#endpoint !== undefined) throw new InvalidArgumentError('transport: memory transport already started');
    this.#endpoint = this.#network.attach(self, handlers);
  }

  send(to: NodeId, messages: readonly PeerMessage[]): void {
    if (this.#endpoint === undefined || messages.length === 0) return;
    this.#network.send(this.#endpoint, to, messages);
  }

  addPeer(id: NodeId): void {
    this.#endpoint?.removed.delete(id);
  }

  removePeer(id: NodeId): void {
    this.#endpoint?.removed.add(id);
  }

  async stop(): Promise<void> {
    if (this.#endpoint !== undefined) this.#network.detach(this.#endpoint);
  }
}

/** A {@link Transport} attached to `network`. Peer addresses are ignored; ids are what matter. */
export function memoryTransport(network: MemoryNetwork): Transport {
  return new MemoryTransport(network);
}
