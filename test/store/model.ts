/**
 * A deliberately naive reference model of the store for model-based tests: the full state at
 * every revision as a sorted array, every event ever, linear scans everywhere. Not a test file.
 */
import {
  CompactedError,
  ConflictError,
  DuplicateKeyError,
  FutureRevisionError,
  InvalidArgumentError,
  KeyExistsError,
  KeyNotFoundError,
  LeaseNotFoundError,
} from '../../src/errors.ts';
import type {
  Command,
  CommandResult,
  Compare,
  DeleteRequest,
  Expectation,
  KeyRange,
  LeaseInfo,
  PutRequest,
  RangeOptions,
  StoredDeleteResult,
  StoredKeyValue,
  StoredPutResult,
  StoredRangeResult,
  StoredTxnResult,
  StoredWatchEvent,
  TxnOp,
  TxnOpResult,
  TxnRequest,
} from '../../src/store/types.ts';

export type State = StoredKeyValue[]; // sorted by key

export function inRange(r: KeyRange, key: string): boolean {
  if ('key' in r) return key === r.key;
  if ('prefix' in r) return key.startsWith(r.prefix);
  return key >= r.start && (r.end === undefined || key < r.end);
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

export interface ModelEvent {
  readonly rev: number;
  readonly ev: StoredWatchEvent; // always with prevKv when there was one
}

export class Model {
  /** states[r] = state at revision r. */
  states: State[] = [[]];
  compactRevision = 0;
  leases = new Map<number, number>();
  events: ModelEvent[] = [];

  get revision(): number {
    return this.states.length - 1;
  }

  current(): State {
    return this.states[this.revision] as State;
  }

  range(r: KeyRange, o: RangeOptions = {}, state?: State, visible?: number): StoredRangeResult {
    const rev = o.revision ?? 0;
    const vis = visible ?? this.revision;
    if (rev > this.revision) throw new FutureRevisionError(rev, this.revision);
    if (rev !== 0 && rev < this.compactRevision) throw new CompactedError(rev, this.compactRevision);
    const st = rev === 0 ? (state ?? this.current()) : (this.states[rev] as State);
    const all = st.filter((kv) => inRange(r, kv.key));
    if (o.countOnly) return { kvs: [], count: all.length, more: false, revision: vis };
    let kvs = all.filter(
      (kv) =>
        !(o.minCreateRevision && kv.createRevision < o.minCreateRevision) &&
        !(o.maxCreateRevision && kv.createRevision > o.maxCreateRevision) &&
        !(o.minModRevision && kv.modRevision < o.minModRevision) &&
        !(o.maxModRevision && kv.modRevision > o.maxModRevision),
    );
    if (o.sort) {
      const sign = o.sort.order === 'desc' ? -1 : 1;
      const by = o.sort.by;
      if (by === 'key') kvs = sign < 0 ? kvs.reverse() : kvs;
      else
        kvs = [...kvs].sort((a, b) => sign * (by === 'value' ? cmpBytes(a.value, b.value) : (a[by] as number) - (b[by] as number)));
    }
    const limit = o.limit ? o.limit : Infinity;
    const more = kvs.length > limit;
    kvs = kvs.slice(0, Math.min(limit, kvs.length));
    if (o.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
    return { kvs, count: all.length, more, revision: vis };
  }

  apply(cmd: Command): CommandResult {
    switch (cmd.type) {
      case 'put':
      case 'delete':
      case 'txn': {
        if (cmd.type === 'txn') dupCheck(cmd.request);
        const ctx = new Ctx(this);
        let result: CommandResult;
        if (cmd.type === 'put') result = { type: 'put', result: ctx.put(cmd.request) };
        else if (cmd.type === 'delete') result = { type: 'delete', result: ctx.del(cmd.request) };
        else result = { type: 'txn', result: ctx.txn(cmd.request) };
        ctx.commit();
        return result;
      }
      case 'compact':
        if (cmd.revision > this.revision) throw new FutureRevisionError(cmd.revision, this.revision);
        if (cmd.revision <= this.compactRevision) throw new CompactedError(cmd.revision, this.compactRevision);
        this.compactRevision = cmd.revision;
        return { type: 'compact', revision: cmd.revision };
      case 'leaseGrant':
        if (this.leases.has(cmd.id)) throw new InvalidArgumentError('exists');
        this.leases.set(cmd.id, cmd.ttlMs);
        return { type: 'leaseGrant', id: cmd.id, ttlMs: cmd.ttlMs };
      case 'leaseRevoke': {
        if (!this.leases.has(cmd.id)) throw new LeaseNotFoundError(cmd.id);
        this.leases.delete(cmd.id);
        const ctx = new Ctx(this);
        const victims = ctx.state.filter((kv) => kv.lease === cmd.id).map((kv) => kv.key);
        for (const k of victims) ctx.remove(k, cmd.id);
        ctx.commit();
        return { type: 'leaseRevoke', id: cmd.id, revision: this.revision, deleted: victims.length };
      }
    }
  }

  leaseList(): LeaseInfo[] {
    return [...this.leases.keys()].sort((a, b) => a - b).map((id) => this.leaseInfo(id) as LeaseInfo);
  }

  leaseInfo(id: number): LeaseInfo | undefined {
    const ttlMs = this.leases.get(id);
    if (ttlMs === undefined) return undefined;
    return { id, ttlMs, keys: this.current().filter((kv) => kv.lease === id).map((kv) => kv.key) };
  }

  /** What a watcher from `start` on `range` should see (all events, revision-tagged). */
  expectedEvents(range: KeyRange, start: number, o: { prevKv?: boolean; noPut?: boolean; noDelete?: boolean }): ModelEvent[] {
    return this.events
      .filter((e) => e.rev >= start && inRange(range, e.ev.kv.key) && !(o.noPut && e.ev.type === 'put') && !(o.noDelete && e.ev.type === 'delete'))
      .map((e) => (o.prevKv || e.ev.prevKv === undefined ? e : { rev: e.rev, ev: { type: e.ev.type, kv: e.ev.kv } }));
  }
}

/** One command's writes against a copy of the current state. */
class Ctx {
  readonly m: Model;
  state: State;
  readonly rev: number;
  evs: StoredWatchEvent[] = [];
  constructor(m: Model) {
    this.m = m;
    this.state = [...m.current()];
    this.rev = m.revision + 1;
  }
  get visible(): number {
    return this.evs.length > 0 ? this.rev : this.m.revision;
  }
  find(key: string): StoredKeyValue | undefined {
    return this.state.find((kv) => kv.key === key);
  }
  set(kv: StoredKeyValue): void {
    this.state = this.state.filter((x) => x.key !== kv.key);
    this.state.push(kv);
    this.state.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  /** `endedLease`: the lease whose revoke deletes the key, kept on the tombstone (0: a delete). */
  remove(key: string, endedLease = 0): void {
    const prev = this.find(key);
    if (!prev) return;
    this.state = this.state.filter((x) => x.key !== key);
    this.evs.push({ type: 'delete', kv: { key, value: new Uint8Array(0), createRevision: 0, modRevision: this.rev, version: 0, lease: endedLease }, prevKv: prev });
  }
  commit(): void {
    if (this.evs.length === 0) return;
    this.m.states.push(this.state);
    for (const ev of this.evs) this.m.events.push({ rev: this.rev, ev });
  }
  put(r: PutRequest): StoredPutResult {
    const cur = this.find(r.key);
    expectCheck(r.key, r.expect, cur);
    if ((r.ignoreValue || r.ignoreLease) && !cur) throw new KeyNotFoundError(r.key);
    const lease = r.ignoreLease ? cur!.lease : (r.lease ?? 0);
    if (lease !== 0 && !this.m.leases.has(lease)) throw new LeaseNotFoundError(lease);
    const kv: StoredKeyValue = {
      key: r.key,
      value: r.ignoreValue ? cur!.value : r.value,
      createRevision: cur ? cur.createRevision : this.rev,
      modRevision: this.rev,
      version: cur ? cur.version + 1 : 1,
      lease,
    };
    this.set(kv);
    this.evs.push(cur ? { type: 'put', kv, prevKv: cur } : { type: 'put', kv });
    return r.prevKv && cur ? { revision: this.rev, prevKv: cur } : { revision: this.rev };
  }
  del(r: DeleteRequest): StoredDeleteResult {
    if (r.expect !== undefined && 'key' in r.range) expectCheck(r.range.key, r.expect, this.find(r.range.key));
    const victims = this.state.filter((kv) => inRange(r.range, kv.key));
    for (const v of victims) this.remove(v.key);
    return r.prevKv ? { revision: this.visible, deleted: victims.length, prevKvs: victims } : { revision: this.visible, deleted: victims.length };
  }
  cmp(c: Compare): boolean {
    const kvs = this.state.filter((kv) => inRange(c.range, kv.key));
    const test = (kv: StoredKeyValue | undefined): boolean => {
      let d: number;
      if (c.target === 'value') {
        if (!kv) return false;
        d = cmpBytes(kv.value, c.value as Uint8Array);
      } else d = (kv ? kv[c.target] : 0) - (c.value as number);
      return c.op === '==' ? d === 0 : c.op === '!=' ? d !== 0 : c.op === '<' ? d < 0 : d > 0;
    };
    return kvs.length === 0 ? test(undefined) : kvs.every(test);
  }
  txn(t: TxnRequest): StoredTxnResult {
    const ok = t.compare.every((c) => this.cmp(c));
    const results: TxnOpResult[] = [];
    for (const op of ok ? t.success : t.failure) results.push(this.op(op));
    return { succeeded: ok, revision: this.visible, results };
  }
  op(op: TxnOp): TxnOpResult {
    if (op.type === 'put') return { type: 'put', result: this.put(op.request) };
    if (op.type === 'delete') return { type: 'delete', result: this.del(op.request) };
    if (op.type === 'txn') return { type: 'txn', result: this.txn(op.request) };
    return { type: 'range', result: this.m.range(op.range, op.options, this.state, this.visible) };
  }
}

function expectCheck(key: string, e: Expectation | undefined, cur: StoredKeyValue | undefined): void {
  if (e === undefined) return;
  if (e === 'absent') {
    if (cur) throw new KeyExistsError(key);
  } else if (e === 'present') {
    if (!cur) throw new KeyNotFoundError(key);
  } else if ('value' in e) {
    if (!cur) throw new KeyNotFoundError(key);
    if (cmpBytes(cur.value, e.value) !== 0) throw new ConflictError(key, 'value');
  } else {
    const want = 'modRevision' in e ? e.modRevision : e.version;
    const have = cur ? ('modRevision' in e ? cur.modRevision : cur.version) : 0;
    if (want !== 0 && !cur) throw new KeyNotFoundError(key);
    if (want !== have) throw new ConflictError(key, 'mismatch');
  }
}

/** etcd's rule, written out naively: per branch, the set of put keys and delete ranges. */
function dupCheck(t: TxnRequest): void {
  branch(t.success);
  branch(t.failure);
}
function branch(ops: readonly TxnOp[]): { puts: string[]; dels: KeyRange[] } {
  const dels: KeyRange[] = ops.flatMap((o) => (o.type === 'delete' ? [o.request.range] : []));
  const puts: string[] = [];
  const hit = (k: string): boolean => dels.some((d) => inRange(d, k));
  for (const o of ops) {
    if (o.type !== 'txn') continue;
    const a = branch(o.request.success);
    const b = branch(o.request.failure);
    for (const k of puts) if ([...a.dels, ...b.dels].some((d) => inRange(d, k))) throw new DuplicateKeyError(k);
    for (const k of a.puts) {
      if (puts.includes(k) || hit(k)) throw new DuplicateKeyError(k);
      puts.push(k);
    }
    for (const k of b.puts) {
      if ((puts.includes(k) && !a.puts.includes(k)) || hit(k)) throw new DuplicateKeyError(k);
      if (!puts.includes(k)) puts.push(k);
    }
    dels.push(...a.dels, ...b.dels);
  }
  for (const o of ops) {
    if (o.type !== 'put') continue;
    if (puts.includes(o.request.key) || hit(o.request.key)) throw new DuplicateKeyError(o.request.key);
    puts.push(o.request.key);
  }
  return { puts, dels };
}
