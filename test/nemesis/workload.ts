// The embedded clients of a nemesis member: three loops calling the node API — registers (put/get
// on three keys), a CAS counter (read, then txn value == v → put v + 1) and multi-key txns (read
// three keys and write two of them atomically, or only read). Each call is recorded before it is
// issued and when it returns; a read that fails had no effect and is dropped, a write that fails
// has an unknown outcome. Values are unique per write (process and sequence number). Not a test file.
import type { QuorumNode } from '../../src/node/node.ts';
import { cmp, op } from '../../src/node/txn-builder.ts';
import type { Consistency, RangeResult } from '../../src/node/types.ts';
import type { OpInput, OpOutput } from './history.ts';

/** How a call ended, as the member reports it. */
export type CallResult =
  | { readonly kind: 'ok'; readonly output: OpOutput }
  /** Certainly without effect (a read that failed). */
  | { readonly kind: 'fail'; readonly code: string }
  /** A write that failed or timed out: it may have been applied. */
  | { readonly kind: 'unknown'; readonly code: string };

export interface Recorder {
  /** Records a call about to be issued; resolves (with its sequence number) once the record is out. */
  invoke(input: OpInput): Promise<number>;
  complete(seq: number, result: CallResult): Promise<void>;
}

export interface ClientsOptions {
  readonly prefix: string;
  readonly process: string;
  readonly random: () => number;
  readonly recorder: Recorder;
  /**
   * Consistency of the plain reads. `serializable` reads a member's local state and is not
   * linearizable: a run with it must find violations (the check of the checker).
   */
  readonly readConsistency: Consistency;
}

/** Bound on one client call in ms: short, so that calls stuck in a partition end as unknown. */
const callTimeoutMs = 1_500;
/** Pause between a client's calls at most, in ms (bounds the history's size). */
const thinkMsMax = 25;
const registerKeys = 3;
const txnKeys = 3;

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : String(err);
}

/** Runs one recorded call. `isWrite` decides whether a failure is `unknown` or `fail`. */
async function recorded(c: ClientsOptions, input: OpInput, isWrite: boolean, call: () => Promise<OpOutput>): Promise<OpOutput | undefined> {
  const seq = await c.recorder.invoke(input);
  try {
    const output = await call();
    await c.recorder.complete(seq, { kind: 'ok', output });
    return output;
  } catch (err) {
    await c.recorder.complete(seq, isWrite ? { kind: 'unknown', code: errorCode(err) } : { kind: 'fail', code: errorCode(err) });
    return undefined;
  }
}

function registerClient(node: QuorumNode, c: ClientsOptions, n: number): Promise<unknown> {
  const key = `${c.prefix}r${Math.floor(c.random() * registerKeys)}`;
  if (c.random() < 0.5) {
    const value = `${c.process}:${n}`;
    return recorded(c, { f: 'put', key, value }, true, async () => {
      await node.put(key, value, { timeoutMs: callTimeoutMs });
      return undefined;
    });
  }
  return recorded(c, { f: 'get', key }, false, async () => {
    const kv = await node.get<string>(key, { timeoutMs: callTimeoutMs, consistency: c.readConsistency });
    return kv === undefined ? null : kv.value;
  });
}

async function counterClient(node: QuorumNode, c: ClientsOptions): Promise<void> {
  const key = `${c.prefix}c`;
  const seen = await recorded(c, { f: 'read', key }, false, async () => {
    const kv = await node.get<number>(key, { timeoutMs: callTimeoutMs, consistency: c.readConsistency });
    return kv === undefined ? null : kv.value;
  });
  if (seen === undefined) return;
  const from = typeof seen === 'number' ? seen : -1;
  // "Absent" is version 0; a present counter is compared by value.
  const guard = from === -1 ? cmp.version(key, '==', 0) : cmp.value(key, '==', from);
  await recorded(c, { f: 'cas', key, from, to: from + 1 }, true, async () => {
    const r = await node.txn().if(guard).then(op.put(key, from + 1)).commit({ timeoutMs: callTimeoutMs });
    return r.succeeded;
  });
}

function txnClient(node: QuorumNode, c: ClientsOptions, n: number): Promise<unknown> {
  const keys = Array.from({ length: txnKeys }, (_, i) => `${c.prefix}t${i}`);
  const writes: Record<string, string> = {};
  if (c.random() < 0.6) {
    const skip = Math.floor(c.random() * txnKeys);
    for (const k of keys.filter((_, i) => i !== skip)) writes[k] = `${c.process}:${n}`;
  }
  const ops = [...keys.map((k) => op.get(k)), ...Object.entries(writes).map(([k, v]) => op.put(k, v))];
  return recorded(c, { f: 'txn', reads: keys, writes }, Object.keys(writes).length > 0, async () => {
    const r = await node
      .txn<string>()
      .then(...ops)
      .commit({ timeoutMs: callTimeoutMs });
    const out: Record<string, string | null> = {};
    keys.forEach((k, i) => (out[k] = (r.results[i] as RangeResult<string>).kvs[0]?.value ?? null));
    return out;
  });
}

/** Starts the three client loops; the returned function stops them and waits for their last calls. */
export function runClients(node: QuorumNode, c: ClientsOptions): () => Promise<void> {
  let running = true;
  const loop = async (step: (n: number) => Promise<unknown>): Promise<void> => {
    for (let n = 1; running && !node.closed; n++) {
      await step(n);
      await new Promise((r) => setTimeout(r, Math.floor(c.random() * thinkMsMax)));
    }
  };
  const loops = [loop((n) => registerClient(node, c, n)), loop(() => counterClient(node, c)), loop((n) => txnClient(node, c, n))];
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}
