/**
 * The simulator's invariant checker. It keeps global, cross-member knowledge (who led which term,
 * which entry was applied at which index, what is known committed) and is told about every
 * durable write, apply, role change and released read; each call asserts one of the Raft safety
 * properties and throws {@link SimViolation} naming it.
 */
import type { Entry, LogIndex, NodeId, Term } from '../../src/protocol/types.ts';
import type { SimStorage } from './sim-storage.ts';

export type Invariant =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'commit-monotonic'
  | 'applied-le-committed'
  | 'apply-order'
  | 'linearizable-read'
  | 'liveness'
  | 'ready-contract'
  | 'core-error'
  | 'storage-misuse';

export class SimViolation extends Error {
  readonly invariant: Invariant;
  constructor(invariant: Invariant, detail: string) {
    super(`${invariant}: ${detail}`);
    this.name = 'SimViolation';
    this.invariant = invariant;
  }
}

export function violate(invariant: Invariant, detail: string): never {
  throw new SimViolation(invariant, detail);
}

/** FNV-1a over the bytes, continuing from `h`. */
export function fnv(h: number, bytes: Uint8Array): number {
  let x = h >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    x ^= bytes[i] as number;
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x;
}

function mixNumber(h: number, n: number): number {
  let x = h >>> 0;
  for (let k = 0; k < 4; k++) {
    x ^= (n >>> (k * 8)) & 0xff;
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  // Numbers past 2^32 (not expected here) still change the hash.
  x ^= Math.floor(n / 4294967296) & 0xff;
  return Math.imul(x, 0x01000193) >>> 0;
}

export const INITIAL_STATE_HASH = 0x811c9dc5;

/** The simulated state machine's hash after applying `e` on top of state `h`. */
export function applyHash(h: number, e: Entry): number {
  let x = mixNumber(h, e.index);
  x = mixNumber(x, e.term);
  x = mixNumber(x, e.type === 'normal' ? 1 : 2);
  return fnv(x, e.data);
}

/** A compact identity for an entry: two different entries at one index must not share it. */
export function entryKey(e: Entry): string {
  return `${e.term}/${e.type}/${e.data.length}/${fnv(INITIAL_STATE_HASH, e.data)}`;
}

interface Committed {
  readonly term: Term;
  /** Lowest term at which some member was seen knowing this index committed. */
  commitTerm: Term;
}

export class Checker {
  /** term → the one leader of that term, across all time (§5.2 Election Safety). */
  readonly leaders = new Map<Term, NodeId>();
  /** index → identity of the entry applied there by anyone (State Machine Safety). */
  readonly applied = new Map<LogIndex, string>();
  /** index → state hash after applying it (so installed snapshots can be checked too). */
  readonly stateHash = new Map<LogIndex, number>();
  /** "index/term" → identity of the entry and the term before it, on any durable log (Log Matching). */
  readonly logPairs = new Map<string, string>();
  readonly committed = new Map<LogIndex, Committed>();
  /** Highest index applied anywhere: every client acknowledgement is at or below it. */
  maxAckedIndex = 0;
  readsChecked = 0;

  leader(term: Term, id: NodeId): void {
    const known = this.leaders.get(term);
    if (known === undefined) this.leaders.set(term, id);
    else if (known !== id) violate('election-safety', `term ${term} has two leaders: ${known} and ${id}`);
  }

  /**
   * Log Matching, incrementally: every (index, term) pair ever written durably must always name
   * the same entry with the same previous term. By induction, two logs sharing (index, term)
   * then share the whole prefix.
   */
  durableEntries(id: NodeId, storage: SimStorage, entries: readonly Entry[]): void {
    for (const e of entries) {
      const prevTerm = storage.termOrUndefined(e.index - 1);
      const identity = `${entryKey(e)}<${prevTerm ?? '?'}`;
      const key = `${e.index}/${e.term}`;
      const known = this.logPairs.get(key);
      if (known === undefined) {
        this.logPairs.set(key, identity);
        continue;
      }
      if (known === identity) continue;
      // An unknown previous term (compacted) on either side only weakens the check.
      const [knownEntry, knownPrev] = known.split('<') as [string, string];
      const [entry, prev] = identity.split('<') as [string, string];
      if (knownEntry !== entry || (knownPrev !== '?' && prev !== '?' && knownPrev !== prev)) {
        violate('log-matching', `${id} wrote index ${e.index} term ${e.term} as ${identity}, another log has ${known}`);
      }
    }
  }

  /** Records that `id`, at `term`, knows `index` (with `entryTerm`) is committed. */
  commit(id: NodeId, index: LogIndex, entryTerm: Term, term: Term): void {
    const known = this.committed.get(index);
    if (known === undefined) {
      this.committed.set(index, { term: entryTerm, commitTerm: term });
      return;
    }
    if (known.term !== entryTerm) {
      violate('leader-completeness', `${id} has index ${index} committed with term ${entryTerm}, but term ${known.term} was committed there`);
    }
    if (term < known.commitTerm) known.commitTerm = term;
  }

  /** Leader Completeness (§5.4): a leader of `term` holds every entry committed in an earlier term. */
  leaderLog(id: NodeId, term: Term, storage: SimStorage): void {
    const first = storage.snapshot().meta.index;
    for (const [index, c] of this.committed) {
      if (c.commitTerm >= term || index <= first) continue;
      const t = storage.termOrUndefined(index);
      if (t !== c.term) {
        violate('leader-completeness', `leader ${id} of term ${term} has ${t === undefined ? 'no entry' : `term ${t}`} at index ${index}, committed with term ${c.term} in term ${c.commitTerm}`);
      }
    }
  }

  apply(id: NodeId, e: Entry, hashAfter: number): void {
    const key = entryKey(e);
    const known = this.applied.get(e.index);
    if (known === undefined) {
      this.applied.set(e.index, key);
      this.stateHash.set(e.index, hashAfter);
    } else if (known !== key) {
      violate('state-machine-safety', `${id} applied ${key} at index ${e.index}, another member applied ${known}`);
    } else if (this.stateHash.get(e.index) !== hashAfter) {
      violate('state-machine-safety', `${id} has state hash ${hashAfter} after index ${e.index}, others ${this.stateHash.get(e.index)}`);
    }
    if (e.index > this.maxAckedIndex) this.maxAckedIndex = e.index;
  }

  installSnapshot(id: NodeId, index: LogIndex, hash: number): void {
    const known = this.stateHash.get(index);
    if (known !== undefined && known !== hash) {
      violate('state-machine-safety', `${id} installed a snapshot at ${index} with state hash ${hash}, others have ${known}`);
    }
  }

  /** A ReadState must not be older than any write acknowledged before the read began. */
  read(id: NodeId, readIndex: LogIndex, floor: LogIndex): void {
    this.readsChecked++;
    if (readIndex < floor) {
      violate('linearizable-read', `${id} released a read at index ${readIndex}, but index ${floor} was acknowledged before the read started`);
    }
  }
}
