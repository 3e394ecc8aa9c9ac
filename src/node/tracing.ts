/**
 * `node:diagnostics_channel` TracingChannels, for OpenTelemetry or any other tracer to attach to
 * (docs/observability.md, "Tracing"). Every call site checks `hasSubscribers` first, so with no
 * subscriber a traced call costs one property read and allocates no context object.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import type { TracingChannel } from 'node:diagnostics_channel';
import type { NodeId } from '../protocol/types.ts';

/** `put`: the key written. */
export interface PutTraceContext {
  readonly member: NodeId;
  readonly key: string;
}

/** `range`: `get()` and `range()` (the first key of the range; `end` for ranges, `prefix` for prefixes). */
export interface RangeTraceContext {
  readonly member: NodeId;
  readonly key: string;
  readonly end?: string;
  readonly prefix?: boolean;
}

/** `delete`, `txn`: the member only (a txn's operations are many; a delete may be a range). */
export interface MemberTraceContext {
  readonly member: NodeId;
}

/** `propose`: the encoded command's size. */
export interface ProposeTraceContext {
  readonly member: NodeId;
  readonly bytes: number;
}

/** `apply`: one Ready batch of committed entries, `firstIndex` … `lastIndex`. */
export interface ApplyTraceContext {
  readonly member: NodeId;
  readonly entries: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
}

/** `snapshot`: a periodic snapshot at `index` (encode, write, log compaction). */
export interface SnapshotTraceContext {
  readonly member: NodeId;
  readonly index: number;
}

export const putChannel: TracingChannel<unknown, PutTraceContext> = tracingChannel('quorumkv:put');
export const rangeChannel: TracingChannel<unknown, RangeTraceContext> = tracingChannel('quorumkv:range');
export const deleteChannel: TracingChannel<unknown, MemberTraceContext> = tracingChannel('quorumkv:delete');
export const txnChannel: TracingChannel<unknown, MemberTraceContext> = tracingChannel('quorumkv:txn');
export const proposeChannel: TracingChannel<unknown, ProposeTraceContext> = tracingChannel('quorumkv:propose');
export const applyChannel: TracingChannel<unknown, ApplyTraceContext> = tracingChannel('quorumkv:apply');
export const snapshotChannel: TracingChannel<unknown, SnapshotTraceContext> = tracingChannel('quorumkv:snapshot');

/**
 * For work that spans several loop turns and is not one promise (a periodic snapshot): `start`
 * and `end` now, `asyncStart` and `asyncEnd` (or `error`) when `finish` is called.
 */
export function traceSpan<C extends object>(channel: TracingChannel<unknown, C>, context: C): (error?: unknown) => void {
  channel.start.publish(context);
  channel.end.publish(context);
  return (error?: unknown) => {
    if (error !== undefined) {
      // On the same context object, as tracePromise does, so subscribers can key spans on it.
      Object.assign(context, { error });
      channel.error.publish(context);
    }
    channel.asyncStart.publish(context);
    channel.asyncEnd.publish(context);
  };
}
