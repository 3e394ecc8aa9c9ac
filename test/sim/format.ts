/** Encodings and one-line descriptions the simulator uses for snapshots, read contexts and the trace. */
import type { ConfState, Message } from '../../src/protocol/types.ts';

export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += (ctx[i] as number).toString(16).padStart(2, '0');
  return s;
}

export function encodeSnapshotData(index: number, hash: number): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setFloat64(0, index);
  view.setUint32(8, hash);
  return out;
}

export function decodeSnapshotData(data: Uint8Array): { index: number; hash: number } {
  if (data.length !== 12) throw new Error(`sim: snapshot data of ${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { index: view.getFloat64(0), hash: view.getUint32(8) };
}

export function describe(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'append':
      s += ` prev=${m.index}/${m.logTerm} n=${m.entries.length} c=${m.commit}`;
      break;
    case 'appendResponse':
      s += ` i=${m.index}${m.reject ? ` REJ hint=${m.rejectHint}` : ''}`;
      break;
    case 'vote':
    case 'preVote':
      s += ` last=${m.index}/${m.logTerm}`;
      break;
    case 'voteResponse':
    case 'preVoteResponse':
      s += m.reject ? ' REJ' : ' ok';
      break;
    case 'heartbeat':
      s += ` c=${m.commit}`;
      break;
    case 'snapshot':
      s += ` snap=${m.snapshot?.meta.index ?? '?'}/${m.snapshot?.meta.term ?? '?'}`;
      break;
    case 'readIndexResponse':
      s += ` i=${m.index}${m.reject ? ' REJ' : ''}`;
      break;
    case 'propose':
      s += ` n=${m.entries.length}`;
      break;
    default:
      break;
  }
  return s;
}

export function confString(c: ConfState): string {
  return `v[${c.voters.join(',')}]${c.learners.length > 0 ? ` l[${c.learners.join(',')}]` : ''}`;
}

