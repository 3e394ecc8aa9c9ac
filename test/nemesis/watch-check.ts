// Checks watch streams against the final history of the keys they watch: per stream, events in
// revisions never decreasing (a txn's events share a revision, never a key), no
// duplicates, nothing that is not in the history, and no gaps — every history event between the
// stream's start revision and the last revision it delivered was delivered, with the same value.
// A stream counts as one across its resumes (a watch that failed and was reopened after the last
// revision it delivered). A stream cut by a kill -9 may end inside a revision. Not a test file.

/** One watch event: the key, its revision, and the value written (`null` for a delete). */
export interface WatchedEvent {
  readonly revision: number;
  readonly key: string;
  readonly value: string | null;
}

export interface WatchStream {
  /** Who watched (process incarnation). */
  readonly process: string;
  readonly prefix: string;
  readonly startRevision: number;
  readonly events: readonly WatchedEvent[];
  /** Times the stream failed and was reopened after its last revision. */
  readonly resumes: number;
  /**
   * The stream was cut from outside (its process was killed before it sent its last events), so
   * its last revision may be only partly recorded; the events before it must still be complete.
   */
  readonly truncated: boolean;
}

export interface WatchViolation {
  readonly process: string;
  readonly message: string;
}

function sameEvent(a: WatchedEvent, b: WatchedEvent): boolean {
  return a.revision === b.revision && a.key === b.key && a.value === b.value;
}

function describe(e: WatchedEvent | undefined): string {
  return e === undefined ? 'nothing' : `${e.key}@${e.revision}=${String(e.value)}`;
}

/** The first problem of one stream, or undefined when it is a gap-free, duplicate-free slice of `history`. */
export function checkWatchStream(stream: WatchStream, history: readonly WatchedEvent[]): string | undefined {
  const ev = stream.events;
  let keysAtRevision = new Set<string>();
  for (let i = 0; i < ev.length; i++) {
    const a = ev[i - 1];
    const b = ev[i]!;
    if (a !== undefined && b.revision < a.revision) return `event ${describe(b)} after ${describe(a)}: out of order`;
    if (a === undefined || b.revision !== a.revision) keysAtRevision = new Set();
    if (keysAtRevision.has(b.key)) return `event ${describe(b)} delivered twice`;
    keysAtRevision.add(b.key);
  }
  const last = ev.at(-1);
  if (last === undefined) return undefined;
  let expected = history.filter((e) => e.revision >= stream.startRevision && e.revision <= last.revision && e.key.startsWith(stream.prefix));
  if (stream.truncated) {
    let n = expected.length;
    while (n > ev.length && expected[n - 1]!.revision === last.revision) n--;
    expected = expected.slice(0, n);
  }
  for (let i = 0; i < Math.max(expected.length, ev.length); i++) {
    const want = expected[i];
    const got = ev[i];
    if (want === undefined || got === undefined || !sameEvent(want, got)) {
      return `event #${i} of the stream is ${describe(got)}, the history has ${describe(want)} (gap, phantom or wrong value)`;
    }
  }
  return undefined;
}

export function checkWatchStreams(streams: readonly WatchStream[], history: readonly WatchedEvent[]): WatchViolation[] {
  const out: WatchViolation[] = [];
  for (const s of streams) {
    const problem = checkWatchStream(s, history);
    if (problem !== undefined) out.push({ process: s.process, message: problem });
  }
  return out;
}
