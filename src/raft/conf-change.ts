/**
 * The byte format of a {@link ConfChange} inside a `confChange` log entry, and the bootstrap
 * batch a brand-new cluster writes to storage before its first start.
 *
 * Format (version 1): `0x01 | type (u8) | idLength (u8) | id (UTF-8) | contextLength (u32 BE) | context`.
 */
import type { ConfChange, ConfChangeType, ConfState, Entry, HardState, NodeId } from '../protocol/types.ts';

const VERSION = 1;
const TYPES: readonly ConfChangeType[] = ['addVoter', 'addLearner', 'promoteLearner', 'removeNode'];
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const id = encoder.encode(cc.nodeId);
  if (id.length === 0 || id.length > 64) throw new RangeError('raft: conf change nodeId must be 1..64 UTF-8 bytes');
  const typeCode = TYPES.indexOf(cc.type);
  if (typeCode < 0) throw new RangeError(`raft: unknown conf change type ${String(cc.type)}`);
  const out = new Uint8Array(3 + id.length + 4 + cc.context.length);
  out[0] = VERSION;
  out[1] = typeCode;
  out[2] = id.length;
  out.set(id, 3);
  new DataView(out.buffer).setUint32(3 + id.length, cc.context.length);
  out.set(cc.context, 7 + id.length);
  return out;
}

/** Decodes a conf change entry's data; undefined when the bytes are not a valid encoding. */
export function decodeConfChange(data: Uint8Array): ConfChange | undefined {
  if (data.length < 7 || data[0] !== VERSION) return undefined;
  const type = TYPES[data[1] as number];
  const idLength = data[2] as number;
  if (type === undefined || idLength === 0 || data.length < 7 + idLength) return undefined;
  let nodeId: NodeId;
  try {
    nodeId = decoder.decode(data.subarray(3, 3 + idLength));
  } catch {
    return undefined;
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const contextLength = view.getUint32(3 + idLength);
  if (data.length !== 7 + idLength + contextLength) return undefined;
  return { type, nodeId, context: data.slice(7 + idLength) };
}

/**
 * What a brand-new cluster's members write to storage (identically on every member) before
 * the first `new RawNode()`: one `addVoter` conf change entry per initial voter at term 1,
 * committed. The first Ready re-delivers them as committed entries and `advance()` applies them,
 * after which the member knows its peers. `contexts` lets the driver attach e.g. peer URLs.
 */
export function bootstrapBatch(
  voters: readonly NodeId[],
  contexts: Readonly<Record<NodeId, Uint8Array>> = {},
): { readonly hardState: HardState; readonly entries: readonly Entry[] } {
  if (voters.length === 0) throw new RangeError('raft: bootstrap needs at least one voter');
  const entries: Entry[] = voters.map((nodeId, i) => ({
    term: 1,
    index: i + 1,
    type: 'confChange',
    data: encodeConfChange({ type: 'addVoter', nodeId, context: contexts[nodeId] ?? new Uint8Array(0) }),
  }));
  return { hardState: { term: 1, vote: '', commit: entries.length }, entries };
}

/** Applies one change to a membership; returns the same object when the change is a no-op. */
export function applyToConfState(conf: ConfState, cc: ConfChange): ConfState {
  const isVoter = conf.voters.includes(cc.nodeId);
  const isLearner = conf.learners.includes(cc.nodeId);
  switch (cc.type) {
    case 'addVoter':
      if (isVoter) return conf;
      return { voters: [...conf.voters, cc.nodeId], learners: conf.learners.filter((x) => x !== cc.nodeId) };
    case 'addLearner':
      if (isVoter || isLearner) return conf;
      return { voters: conf.voters, learners: [...conf.learners, cc.nodeId] };
    case 'promoteLearner':
      if (!isLearner) return conf;
      return { voters: [...conf.voters, cc.nodeId], learners: conf.learners.filter((x) => x !== cc.nodeId) };
    case 'removeNode':
      if (!isVoter && !isLearner) return conf;
      // The last voter cannot leave: a cluster with no voters can never make progress again.
      if (isVoter && conf.voters.length === 1) return conf;
      return { voters: conf.voters.filter((x) => x !== cc.nodeId), learners: conf.learners.filter((x) => x !== cc.nodeId) };
  }
}
