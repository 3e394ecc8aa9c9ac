// A minimal in-memory Storage used only until src/storage's memoryStorage lands, so the node's
// tests can run against the real Raft core and store. Not a test file.
import { EMPTY_SNAPSHOT } from '../../../src/protocol/types.ts';
import type { ConfState, Entry, HardState, LogIndex, Snapshot } from '../../../src/protocol/types.ts';
import { LogCompactedError, LogUnavailableError } from '../../../src/raft/types.ts';
import type { SaveBatch, Storage } from '../../../src/storage/types.ts';

export function stubStorage(): Storage {
  let hard: HardState = { term: 0, vote: '', commit: 0 };
  let snap: Snapshot = EMPTY_SNAPSHOT;
  // Entries after `offset` (the index of the first held entry is offset + 1).
  let offset = 0;
  let ents: Entry[] = [];
  const last = (): number => offset + ents.length;
  const storage: Storage = {
    async open() {},
    initialState: () => ({ hardState: hard, confState: snap.meta.confState }),
    firstIndex: () => offset + 1,
    lastIndex: () => last(),
    term(i: LogIndex) {
      if (i > last()) throw new LogUnavailableError(i);
      if (i > offset) return ents[i - offset - 1]!.term;
      if (i === snap.meta.index) return snap.meta.term;
      throw new LogCompactedError(i);
    },
    entries(lo: LogIndex, hi: LogIndex, maxBytes: number) {
      if (lo < offset + 1) throw new LogCompactedError(lo);
      if (hi > last() + 1) throw new LogUnavailableError(hi - 1);
      const out: Entry[] = [];
      let bytes = 0;
      for (let i = lo; i < hi; i++) {
        const e = ents[i - offset - 1]!;
        bytes += e.data.length;
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
      }
      return out;
    },
    snapshot: () => snap,
    async save(batch: SaveBatch) {
      if (batch.snapshot !== undefined) {
        snap = batch.snapshot;
        offset = snap.meta.index;
        ents = [];
      }
      if (batch.entries.length > 0) {
        const first = batch.entries[0]!.index;
        ents = ents.slice(0, Math.max(0, first - offset - 1));
        ents.push(...batch.entries);
      }
      if (batch.hardState !== undefined) hard = batch.hardState;
      await new Promise((r) => setImmediate(r));
    },
    async createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array) {
      snap = { meta: { index, term: storage.term(index), confState }, data };
      return snap;
    },
    async compact(index: LogIndex) {
      // Keep the term of the entry before `index` reachable via snap when it is the snapshot.
      const drop = Math.min(index - 1 - offset, ents.length);
      if (drop <= 0) return;
      ents = ents.slice(drop);
      offset += drop;
    },
    async close() {},
  };
  return storage;
}
