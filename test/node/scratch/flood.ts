import { createNode } from '../../../src/node/create.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const dir = mkdtempSync(join(tmpdir(), 'qkv-flood-'));
import { fileStorage } from '../../../src/storage/file-storage.ts';
const st = fileStorage(dir);
const origSave = st.save.bind(st);
const stats = { saves: 0, entries: 0, hs: 0, ms: 0 };
st.save = async (b) => { stats.saves++; stats.entries += b.entries.length; if (b.entries.length === 0) stats.hs++; const t = performance.now(); await origSave(b); stats.ms += performance.now() - t; };
const node = await createNode({ id: 'n1', storage: st });
await node.ready();
let saves = 0;
for (let round = 0; round < 2; round++) {
  const N = 5000; let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: 256 }, async () => { while (next < N) { const i = next++; await node.put('/f/' + i, i); } }));
  const ms = performance.now() - t;
  console.log('single fileStorage flood', Math.round(N / (ms / 1000)), 'puts/s', JSON.stringify(stats)); stats.saves = stats.entries = stats.hs = stats.ms = 0;
  const t2 = performance.now();
  for (let i = 0; i < 200; i++) await node.put('/s/' + i, i);
  console.log('seq put avg ms', (performance.now() - t2) / 200);
}
await node.close();
rmSync(dir, { recursive: true, force: true });
