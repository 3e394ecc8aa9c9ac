import { createNode } from '../../../src/node/create.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStorage } from '../../../src/storage/file-storage.ts';
import { RawNode } from '../../../src/raft/raw-node.ts';
const dir = mkdtempSync(join(tmpdir(), 'qkv-trace-'));
const st = fileStorage(dir);
const t0 = performance.now();
const T = () => (performance.now() - t0).toFixed(1);
const origSave = st.save.bind(st);
st.save = async (b) => { const t = performance.now(); await origSave(b); if ((globalThis as any).TRACE) console.log(T(), 'save', b.entries.length, 'hs', JSON.stringify(b.hardState), (performance.now() - t).toFixed(1), 'ms'); };
const origReady = RawNode.prototype.ready;
RawNode.prototype.ready = function () { const r = origReady.call(this); if ((globalThis as any).TRACE) console.log(T(), 'ready ents', r.entries.length, 'committed', r.committedEntries.length, 'hs', !!r.hardState, 'msgs', r.messages.length); return r; };
const origTick = RawNode.prototype.tick;
RawNode.prototype.tick = function () { if ((globalThis as any).TRACE) console.log(T(), 'tick'); return origTick.call(this); };
const node = await createNode({ id: 'n1', storage: st });
await node.ready();
for (let round = 0; round < 3; round++) {
  let next = 0; const N = 3000;
  if (round === 2) (globalThis as any).TRACE = true;
  console.log(T(), '--- flood');
  await Promise.all(Array.from({ length: 256 }, async () => { while (next < N) { const i = next++; await node.put('/f/' + i, i); } }));
  console.log(T(), '--- done');
}
await node.close();
