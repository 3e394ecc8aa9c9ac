/** Builds {@link Message}s with every field present, so they all share one object shape. */
import { MESSAGE_TYPES } from '../protocol/types.ts';
import type { Entry, LogIndex, Message, MessageType, NodeId, Snapshot, Term } from '../protocol/types.ts';

export const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

export interface MessageFields {
  readonly logTerm?: Term;
  readonly index?: LogIndex;
  readonly entries?: readonly Entry[];
  readonly commit?: LogIndex;
  readonly reject?: boolean;
  readonly rejectHint?: LogIndex;
  readonly snapshot?: Snapshot;
  readonly context?: Uint8Array;
}

export function makeMessage(type: MessageType, from: NodeId, to: NodeId, term: Term, f: MessageFields = {}): Message {
  const m: {
    type: MessageType;
    from: NodeId;
    to: NodeId;
    term: Term;
    logTerm: Term;
    index: LogIndex;
    entries: readonly Entry[];
    commit: LogIndex;
    reject: boolean;
    rejectHint: LogIndex;
    snapshot?: Snapshot;
    context?: Uint8Array;
  } = {
    type,
    from,
    to,
    term,
    logTerm: f.logTerm ?? 0,
    index: f.index ?? 0,
    entries: f.entries ?? NO_ENTRIES,
    commit: f.commit ?? 0,
    reject: f.reject ?? false,
    rejectHint: f.rejectHint ?? 0,
  };
  if (f.snapshot !== undefined) m.snapshot = f.snapshot;
  if (f.context !== undefined) m.context = f.context;
  return m;
}

/** Context of a `vote` sent because of `timeoutNow`: voters must not refuse it for leader stickiness. */
export const TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode('transfer');

export function isTransferContext(context: Uint8Array | undefined): boolean {
  if (context === undefined || context.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < context.length; i++) if (context[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const TYPES: ReadonlySet<string> = new Set<MessageType>(MESSAGE_TYPES);

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Cheap structural check of a peer's message; returns a reason when it must be dropped. */
export function invalidReason(m: Message): string | undefined {
  if (m === null || typeof m !== 'object') return 'not an object';
  if (!TYPES.has(m.type)) return 'unknown type';
  if (typeof m.from !== 'string' || m.from === '') return 'bad from';
  if (!isIndex(m.term) || !isIndex(m.logTerm) || !isIndex(m.index) || !isIndex(m.commit) || !isIndex(m.rejectHint)) {
    return 'bad number field';
  }
  if (!Array.isArray(m.entries)) return 'bad entries';
  if (m.context !== undefined && !(m.context instanceof Uint8Array)) return 'bad context';
  if (m.type === 'append' && m.entries.length > 0) {
    const first = m.entries[0] as Entry;
    const last = m.entries[m.entries.length - 1] as Entry;
    if (first.index !== m.index + 1 || last.index !== m.index + m.entries.length) return 'entries not contiguous';
    if (last.term > m.term || first.term < m.logTerm) return 'entry terms out of order';
  }
  if (m.type === 'snapshot') {
    const meta = m.snapshot?.meta;
    if (meta === undefined || !isIndex(meta.index) || !isIndex(meta.term) || !(m.snapshot?.data instanceof Uint8Array)) return 'bad snapshot';
    if (!Array.isArray(meta.confState?.voters) || !Array.isArray(meta.confState?.learners)) return 'bad snapshot conf state';
  }
  return undefined;
}
