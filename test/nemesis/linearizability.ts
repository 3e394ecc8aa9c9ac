// A linearizability checker in the style of Wing & Gong with Lowe's memoization: a depth-first
// search over the history's call/return entries that linearizes a pending call whenever the model
// allows it, and backtracks at the first return whose call it could not place. Configurations
// already explored — (set of linearized ops, model state) — are remembered and never searched twice,
// which is what makes real histories tractable. Histories are first split by key where the model is
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
  /** A call's return entry (absent for ops of unknown outcome and for returns). */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** The doubly linked list of entries, calls and returns sorted by time (calls first on ties). */
function buildEntries(ops: readonly HistoryOp[]): Entry {
  const events: { t: number; entry: Entry }[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { op: i, call: true, match: undefined, prev: undefined, next: undefined };
    events.push({ t: op.invokeMs, entry: call });
    if (op.status === 'ok') {
      const ret: Entry = { op: i, call: false, match: undefined, prev: undefined, next: undefined };
      call.match = ret;
      events.push({ t: op.completeMs ?? op.invokeMs, entry: ret });
    }
  });
  // Ties put calls first: two ops touching at one instant count as concurrent, the lenient choice.
  events.sort((a, b) => a.t - b.t || Number(b.entry.call) - Number(a.entry.call) || a.entry.op - b.entry.op);
  const head: Entry = { op: -1, call: false, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const { entry } of events) {
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

/** The memo key of a linearized set: the count of leading full words, then the rest in hex. */
function bitsKey(bits: Uint32Array): string {
  let full = 0;
  while (full < bits.length && bits[full] === 0xffffffff) full++;
  let end = bits.length;
  while (end > full && bits[end - 1] === 0) end--;
  let s = `${full}:`;
  for (let i = full; i < end; i++) s += `${bits[i]!.toString(16)},`;
  return s;
}

/** Searches one sub-history against `model`. */
export function checkOps<S>(model: Model<S>, unsorted: readonly HistoryOp[], budget: SearchBudget = {}): CheckResult {
  const ops = [...unsorted].sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id);
  const maxSteps = budget.maxSteps ?? 20_000_000;
  const deadline = performance.now() + (budget.maxMs ?? 60_000);
  const head = buildEntries(ops);
  const bits = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const memo = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let remainingKnown = ops.filter((op) => op.status === 'ok').length;
  let state = model.initial;
  let entry = head.next;
  let steps = 0;
  let deepest: { depth: number; op: number } = { depth: -1, op: 0 };
  while (remainingKnown > 0) {
    steps++;
    if (steps > maxSteps) return { kind: 'unknown', ops: ops.length, steps, reason: `more than ${maxSteps} search steps` };
    if ((steps & 0x3ff) === 0 && performance.now() > deadline) return { kind: 'unknown', ops: ops.length, steps, reason: `search over its ${budget.maxMs ?? 60_000} ms budget` };
    if (entry === undefined) throw new Error('linearizability: ran past the entries with known ops left (a broken entry list)');
    if (entry.call) {
      const op = ops[entry.op]!;
      const known = op.status === 'ok';
      const next = model.step(state, op.input, op.output, known);
      if (next !== undefined) {
        bits[entry.op >>> 5]! |= 1 << (entry.op & 31);
        const key = `${bitsKey(bits)}|${model.key(next)}`;
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          if (known) remainingKnown--;
          entry = head.next;
          continue;
        }
        bits[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
      continue;
    }
    // A return whose call is not linearized: every order tried so far from here fails.
    if (stack.length > deepest.depth) deepest = { depth: stack.length, op: entry.op };
    const top = stack.pop();
    if (top === undefined) return { kind: 'violation', ops: ops.length, steps, blockedOp: ops[deepest.op]!, linearizedBefore: deepest.depth };
    state = top.state;
    bits[top.entry.op >>> 5]! &= ~(1 << (top.entry.op & 31));
    unlift(top.entry);
    if (ops[top.entry.op]!.status === 'ok') remainingKnown++;
    entry = top.entry.next;
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
    .map(([name, part]) => ({ name, result: checkOps(part.model, part.ops, budget) }));
}
