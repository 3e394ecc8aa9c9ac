// A linearizability checker in the style of Wing & Gong with Lowe's memoization: a depth-first
// search over the history's call/return entries that linearizes a pending call whenever the model
// allows it, and backtracks at the first return whose call it could not place. Configurations
// already explored — (set of linearized ops, model state) — are remembered and never searched twice,
// which is what makes real histories tractable (the set is kept as a 64-bit Zobrist hash). Histories are first split by key where the model is
// per key (P-compositionality: a history is linearizable iff each key's sub-history is), so each
// search is small. An op of unknown outcome has a call and no return: the search may linearize it
// anywhere after its call, or never. A search that exceeds its step or time budget answers
// "unknown", never "ok". Not a test file.
import type { HistoryOp, OpInput } from './history.ts';
import { counterModel, multiKeyModel, registerModel } from './models.ts';
import type { Model } from './models.ts';

export type CheckResult =
  | { readonly kind: 'ok'; readonly ops: number; readonly steps: number }
  | { readonly kind: 'violation'; readonly ops: number; readonly steps: number; readonly blockedOp: HistoryOp; readonly linearizedBefore: number }
  | { readonly kind: 'unknown'; readonly ops: number; readonly steps: number; readonly reason: string };

/** Budget of one search. */
export interface SearchBudget {
  /** Search steps (an entry looked at) at most. @default 20_000_000 */
  readonly maxSteps?: number;
  /** Wall-clock time at most, in ms. @default 60_000 */
  readonly maxMs?: number;
}

interface Entry {
  /** Index of the op in the sorted history. */
  readonly op: number;
  readonly call: boolean;
  /** When the call or return happened, in ms. */
  readonly t: number;
  /** A call's return entry (absent for returns). */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/**
 * The doubly linked list of the completed ops' entries, calls and returns sorted by time (calls
 * first on ties: two ops touching at one instant count as concurrent, the lenient choice). Ops of
 * unknown outcome are not in it: the search keeps them apart (see {@link checkOps}).
 */
function buildEntries(ops: readonly HistoryOp[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, i) => {
    if (op.status !== 'ok') return;
    const call: Entry = { op: i, call: true, t: op.invokeMs, match: undefined, prev: undefined, next: undefined };
    const ret: Entry = { op: i, call: false, t: op.completeMs ?? op.invokeMs, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    entries.push(call, ret);
  });
  entries.sort((a, b) => a.t - b.t || Number(b.call) - Number(a.call) || a.op - b.op);
  const head: Entry = { op: -1, call: false, t: -Infinity, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const entry of entries) {
    entry.prev = last;
    last.next = entry;
    last = entry;
  }
  return head;
}

function lift(entry: Entry): void {
  entry.prev!.next = entry.next;
  if (entry.next !== undefined) entry.next.prev = entry.prev;
  const ret = entry.match;
  if (ret === undefined) return;
  ret.prev!.next = ret.next;
  if (ret.next !== undefined) ret.next.prev = ret.prev;
}

/** Undoes the `lift` of `entry` (lifts are undone in reverse order, so the neighbours are intact). */
function unlift(entry: Entry): void {
  const ret = entry.match;
  if (ret !== undefined) {
    ret.prev!.next = ret;
    if (ret.next !== undefined) ret.next.prev = ret;
  }
  entry.prev!.next = entry;
  if (entry.next !== undefined) entry.next.prev = entry;
}

/**
 * Zobrist keys of the linearized set: two random 32-bit words per op, XORed in and out as ops are
 * linearized and undone, so a memo key costs O(1) instead of O(ops). Two different sets with the
 * same 64-bit key (odds about configurations² / 2⁶⁵) would make the search skip a configuration it
 * never explored: that can only turn "ok" into "violation", never the reverse.
 */
function zobristKeys(n: number): Uint32Array {
  const keys = new Uint32Array(2 * n);
  let x = 0x9e3779b9;
  for (let i = 0; i < keys.length; i++) {
    // xorshift32: any fixed sequence of well-mixed words will do.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    keys[i] = x >>> 0;
  }
  return keys;
}

/** A linearized op and how to resume the search where it was chosen. */
type Frame<S> = { readonly state: S } & ({ readonly kind: 'listed'; readonly entry: Entry } | { readonly kind: 'unknown'; readonly index: number; readonly untilMs: number });

/** One search over a sorted sub-history (see {@link checkOps}); its state is the search's cursor. */
class Search<S> {
  readonly #model: Model<S>;
  readonly #ops: readonly HistoryOp[];
  readonly #head: Entry;
  /** Indexes of the ops of unknown outcome, by call time. */
  readonly #unknown: readonly number[];
  readonly #placed: Uint8Array;
  readonly #zobrist: Uint32Array;
  #hashHigh = 0;
  #hashLow = 0;
  readonly #memo = new Set<string>();
  readonly #stack: Frame<S>[] = [];
  state: S;
  remainingKnown: number;
  /** The deepest stuck return: where a violation is reported. */
  deepest: { depth: number; op: number } = { depth: -1, op: 0 };
  // The cursor: a list entry, or (at a stuck return) the next unknown op to try up to `untilMs`.
  entry: Entry | undefined;
  unknownAt = -1;
  untilMs = 0;

  constructor(model: Model<S>, ops: readonly HistoryOp[]) {
    this.#model = model;
    this.#ops = ops;
    this.#head = buildEntries(ops);
    this.#unknown = ops.flatMap((op, i) => (op.status === 'ok' ? [] : [i]));
    this.#placed = new Uint8Array(ops.length);
    this.#zobrist = zobristKeys(ops.length);
    this.state = model.initial;
    this.remainingKnown = ops.length - this.#unknown.length;
    this.entry = this.#head.next;
  }

  #toggle(i: number): void {
    this.#hashHigh = (this.#hashHigh ^ this.#zobrist[2 * i]!) >>> 0;
    this.#hashLow = (this.#hashLow ^ this.#zobrist[2 * i + 1]!) >>> 0;
    this.#placed[i] = this.#placed[i] === 0 ? 1 : 0;
  }

  /** Places op `i` when the model allows it and the configuration is new; true when placed. */
  #place(i: number, frame: Frame<S>): boolean {
    const op = this.#ops[i]!;
    const next = this.#model.step(this.state, op.input, op.output, op.status === 'ok');
    if (next === undefined) return false;
    const high = (this.#hashHigh ^ this.#zobrist[2 * i]!) >>> 0;
    const low = (this.#hashLow ^ this.#zobrist[2 * i + 1]!) >>> 0;
    const key = `${high.toString(36)},${low.toString(36)}|${this.#model.key(next)}`;
    if (this.#memo.has(key)) return false;
    this.#memo.add(key);
    this.#toggle(i);
    this.#stack.push(frame);
    this.state = next;
    return true;
  }

  /** One step of the walk over the list of completed ops' entries. */
  stepListed(entry: Entry): void {
    if (entry.call) {
      if (this.#place(entry.op, { kind: 'listed', entry, state: this.state })) {
        lift(entry);
        this.remainingKnown--;
        this.entry = this.#head.next;
      } else this.entry = entry.next;
      return;
    }
    // A return whose call is not placed: only an op of unknown outcome can still go before it.
    if (this.#stack.length > this.deepest.depth) this.deepest = { depth: this.#stack.length, op: entry.op };
    this.unknownAt = 0;
    this.untilMs = entry.t;
  }

  /** One step over the unknown ops at a stuck return; false when the search is exhausted (a violation). */
  stepUnknown(): boolean {
    const u = this.#unknown[this.unknownAt];
    if (u !== undefined && this.#ops[u]!.invokeMs <= this.untilMs) {
      if (this.#placed[u] === 0 && this.#place(u, { kind: 'unknown', index: this.unknownAt, untilMs: this.untilMs, state: this.state })) {
        this.unknownAt = -1;
        this.entry = this.#head.next;
      } else this.unknownAt++;
      return true;
    }
    // Every candidate failed from here: undo the last placement and try what comes after it.
    const top = this.#stack.pop();
    if (top === undefined) return false;
    this.state = top.state;
    this.#toggle(top.kind === 'listed' ? top.entry.op : this.#unknown[top.index]!);
    if (top.kind === 'listed') {
      unlift(top.entry);
      this.remainingKnown++;
      this.unknownAt = -1;
      this.entry = top.entry.next;
    } else {
      this.unknownAt = top.index + 1;
      this.untilMs = top.untilMs;
    }
    return true;
  }
}

/**
 * Searches one sub-history against `model`. The candidates to linearize next are the completed
 * calls before the list's first return, tried first, then the ops of unknown outcome invoked by
 * that return's time: an unknown op is placed only where a completed one cannot go on without it,
 * which spares the search most of the orders that would fail.
 */
export function checkOps<S>(model: Model<S>, unsorted: readonly HistoryOp[], budget: SearchBudget = {}): CheckResult {
  const ops = [...unsorted].sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id);
  const maxSteps = budget.maxSteps ?? 20_000_000;
  const maxMs = budget.maxMs ?? 60_000;
  const deadline = performance.now() + maxMs;
  const search = new Search(model, ops);
  let steps = 0;
  while (search.remainingKnown > 0) {
    steps++;
    if (steps > maxSteps) return { kind: 'unknown', ops: ops.length, steps, reason: `more than ${maxSteps} search steps` };
    if ((steps & 0x3ff) === 0 && performance.now() > deadline) return { kind: 'unknown', ops: ops.length, steps, reason: `search over its ${maxMs} ms budget` };
    if (search.unknownAt >= 0) {
      if (!search.stepUnknown()) return { kind: 'violation', ops: ops.length, steps, blockedOp: ops[search.deepest.op]!, linearizedBefore: search.deepest.depth };
      continue;
    }
    if (search.entry === undefined) throw new Error('linearizability: ran past the entries with known ops left (a broken entry list)');
    search.stepListed(search.entry);
  }
  return { kind: 'ok', ops: ops.length, steps };
}

/** One independently checked part of a history. */
export interface PartitionResult {
  /** `register r1`, `cas-counter c0`, `multi-key txn`. */
  readonly name: string;
  readonly result: CheckResult;
}

function partitionName(input: OpInput): { readonly name: string; readonly model: Model<unknown> } {
  if (input.f === 'txn') return { name: multiKeyModel.name, model: multiKeyModel as Model<unknown> };
  if (input.f === 'put' || input.f === 'get') return { name: `${registerModel.name} ${input.key}`, model: registerModel as Model<unknown> };
  return { name: `${counterModel.name} ${input.key}`, model: counterModel as Model<unknown> };
}

/**
 * Drops the writes of unknown outcome whose values no read returned. With unique written values
 * (registers, txn writes) this keeps the verdict: in any linearization, a read placed after such a
 * write and before the next write of that key would have returned its value, so there is none,
 * and the order without the write stays legal. It spares the search the writes that timed out
 * and never took effect, which it could otherwise place at every point of the history.
 */
function withoutUnobservedWrites(ops: readonly HistoryOp[]): HistoryOp[] {
  const seen = new Set<string>();
  for (const op of ops) {
    if (op.status !== 'ok') continue;
    if (typeof op.output === 'string') seen.add(op.output);
    else if (op.input.f === 'txn' && typeof op.output === 'object' && op.output !== null) {
      for (const v of Object.values(op.output)) if (v !== null) seen.add(v);
    }
  }
  return ops.filter((op) => {
    if (op.status === 'ok') return true;
    if (op.input.f === 'put') return seen.has(op.input.value);
    if (op.input.f === 'txn') return Object.values(op.input.writes).some((v) => seen.has(v));
    return true;
  });
}

/** Splits a whole run's history into per-key (and one multi-key) sub-histories and checks each. */
export function checkHistory(history: readonly HistoryOp[], budget: SearchBudget = {}): PartitionResult[] {
  const parts = new Map<string, { model: Model<unknown>; ops: HistoryOp[] }>();
  for (const op of history) {
    const { name, model } = partitionName(op.input);
    let part = parts.get(name);
    if (part === undefined) parts.set(name, (part = { model, ops: [] }));
    part.ops.push(op);
  }
  return [...parts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, part]) => ({ name, result: checkOps(part.model, part.model === counterModel ? part.ops : withoutUnobservedWrites(part.ops), budget) }));
}
