/**
 * The txn builder and its `cmp`/`op` helpers. Helpers hold user values (typed `T`); they become
 * store-level bytes only at `commit()`, with the node's codec.
 */
import { InvalidArgumentError } from '../errors.ts';
import type { CompareOp, CompareTarget, KeyRange } from '../store/types.ts';
import type { CallOptions, Expect, RangeCallOptions, TxnResult } from './types.ts';

export interface Cmp {
  readonly kind: 'cmp';
  readonly range: KeyRange;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  /** A user value for `value` compares (encoded at commit), a number otherwise. */
  readonly operand: unknown;
}

export interface OpPutOptions<T = unknown> {
  readonly lease?: number;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
  readonly expect?: Expect<T>;
}

export interface OpDeleteOptions<T = unknown> {
  readonly prevKv?: boolean;
  readonly expect?: Expect<T>;
}

export type OpRangeOptions = Omit<RangeCallOptions, 'consistency' | 'signal' | 'timeoutMs'>;

export interface TxnSpec {
  readonly if?: readonly Cmp[];
  readonly then?: readonly Op[];
  readonly else?: readonly Op[];
}

export type Op =
  | { readonly kind: 'put'; readonly key: string; readonly value: unknown; readonly options: OpPutOptions }
  | { readonly kind: 'range'; readonly range: KeyRange; readonly options: OpRangeOptions }
  | { readonly kind: 'delete'; readonly range: KeyRange; readonly options: OpDeleteOptions }
  | { readonly kind: 'txn'; readonly spec: TxnSpec };

/** A key or a range; a plain string is the single key. */
export type KeyOrRange = string | KeyRange;

export function toRange(keyOrRange: KeyOrRange, field = 'key'): KeyRange {
  if (typeof keyOrRange === 'string') {
    if (keyOrRange === '') throw new InvalidArgumentError(`node: ${field} must not be empty`);
    return { key: keyOrRange };
  }
  if (typeof keyOrRange !== 'object' || keyOrRange === null) throw new InvalidArgumentError(`node: ${field} must be a string or a key range`);
  const r = keyOrRange as Record<string, unknown>;
  if ('key' in r) {
    if (typeof r['key'] !== 'string' || r['key'] === '') throw new InvalidArgumentError(`node: ${field}.key must be a non-empty string`);
    return { key: r['key'] };
  }
  if ('prefix' in r) {
    if (typeof r['prefix'] !== 'string') throw new InvalidArgumentError(`node: ${field}.prefix must be a string`);
    return { prefix: r['prefix'] };
  }
  if ('start' in r) {
    if (typeof r['start'] !== 'string') throw new InvalidArgumentError(`node: ${field}.start must be a string`);
    if (r['end'] === undefined) return { start: r['start'] };
    if (typeof r['end'] !== 'string') throw new InvalidArgumentError(`node: ${field}.end must be a string`);
    return { start: r['start'], end: r['end'] };
  }
  throw new InvalidArgumentError(`node: ${field} must have key, prefix or start`);
}

function compare(target: CompareTarget) {
  return (keyOrRange: KeyOrRange, op: CompareOp, operand: unknown): Cmp => {
    if (op !== '==' && op !== '!=' && op !== '<' && op !== '>') throw new InvalidArgumentError(`node: compare op must be ==, !=, < or >, got ${String(op)}`);
    if (target !== 'value' && (typeof operand !== 'number' || !Number.isSafeInteger(operand))) {
      throw new InvalidArgumentError(`node: ${target} compare needs an integer operand`);
    }
    return { kind: 'cmp', range: toRange(keyOrRange), target, op, operand };
  };
}

/** Txn compares (etcd semantics: over a range, every key must satisfy it). */
export const cmp = Object.freeze({
  value: compare('value') as <T>(keyOrRange: KeyOrRange, op: CompareOp, value: T) => Cmp,
  version: compare('version') as (keyOrRange: KeyOrRange, op: CompareOp, version: number) => Cmp,
  createRevision: compare('createRevision') as (keyOrRange: KeyOrRange, op: CompareOp, revision: number) => Cmp,
  modRevision: compare('modRevision') as (keyOrRange: KeyOrRange, op: CompareOp, revision: number) => Cmp,
  lease: compare('lease') as (keyOrRange: KeyOrRange, op: CompareOp, leaseId: number) => Cmp,
  /** The key exists with exactly this create revision (a lock/election holder still owns it). */
  owns(holder: { readonly key: string; readonly createRevision: number }): Cmp {
    return compare('createRevision')(holder.key, '==', holder.createRevision);
  },
});

/** Txn operations. */
export const op = Object.freeze({
  put<T>(key: string, value: T, options: OpPutOptions<T> = {}): Op {
    toRange(key);
    return { kind: 'put', key, value, options };
  },
  get(key: string, options: OpRangeOptions = {}): Op {
    return { kind: 'range', range: toRange(key), options };
  },
  range(range: KeyOrRange, options: OpRangeOptions = {}): Op {
    return { kind: 'range', range: toRange(range), options };
  },
  delete<T>(keyOrRange: KeyOrRange, options: OpDeleteOptions<T> = {}): Op {
    return { kind: 'delete', range: toRange(keyOrRange), options };
  },
  txn(nested: TxnSpec | TxnBuilder<unknown>): Op {
    return { kind: 'txn', spec: nested instanceof TxnBuilder ? nested.spec() : nested };
  },
});

/** `node.txn().if(...).then(...).else(...).commit()`. */
export class TxnBuilder<T> {
  #compares: Cmp[] = [];
  #success: Op[] = [];
  #failure: Op[] = [];
  readonly #commit: ((spec: TxnSpec, options: CallOptions) => Promise<TxnResult<T>>) | undefined;

  constructor(commit?: (spec: TxnSpec, options: CallOptions) => Promise<TxnResult<T>>) {
    this.#commit = commit;
  }

  if(...compares: Cmp[]): this {
    for (const c of compares) if (c?.kind !== 'cmp') throw new InvalidArgumentError('node: txn.if takes cmp.* compares');
    this.#compares.push(...compares);
    return this;
  }

  then(...ops: Op[]): this {
    this.#success.push(...checkOps(ops, 'then'));
    return this;
  }

  else(...ops: Op[]): this {
    this.#failure.push(...checkOps(ops, 'else'));
    return this;
  }

  spec(): TxnSpec {
    return { if: [...this.#compares], then: [...this.#success], else: [...this.#failure] };
  }

  commit(options: CallOptions = {}): Promise<TxnResult<T>> {
    if (this.#commit === undefined) return Promise.reject(new InvalidArgumentError('node: this txn builder is not bound to a node; use op.txn()'));
    return this.#commit(this.spec(), options);
  }
}

function checkOps(ops: Op[], where: string): Op[] {
  for (const o of ops) {
    if (o === null || typeof o !== 'object' || !['put', 'range', 'delete', 'txn'].includes(o.kind)) {
      throw new InvalidArgumentError(`node: txn.${where} takes op.* operations`);
    }
  }
  return ops;
}
