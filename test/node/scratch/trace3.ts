import { createNode } from '../../../src/node/create.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStorage } from '../../../src/storage/file-storage.ts';
import { MemoryNetwork, memoryTransport } from '../../../src/transport/memory-transport.ts';
import type { Storage } from '../../../src/storage/types.ts';
const dir = mkdtempSync(join(tmpdir(), 'qkv-trace3-'));
const net = new MemoryNetwork();
const peers = { n1: 'ws://127.0.0.1:1', n2: 'ws://127.0.0.1:2', n3: 'ws://127.0.0.1:3' };
const t0 = performance.now();
const T = () => (performance.now() - t0).toFixed(1);
let trace = false;
const stats: Record<string, { saves: number; entries: number; ms: number }> = {};
function wrap(id: string, st: Storage): Storage {
  const orig = st.save.bind(st);
  stats[id] = { saves: 0, entries: 0, ms: 0 };
  st.save = async (b) => { const t = performance.now(); await orig(b); const s = stats[id]!; s.saves++; s.entries += b.entries.length; s.ms += performance.now() - t; if (trace) console.log(T(), id, 'save', b.entries.length, (performance.now() - t).toFixed(1)); };
  return st;
}
const nodes = await Promise.all(Object.keys(peers).map((id) => createNode({ id, peers, storage: wrap(id, fileStorage(join(dir, id))), transport: memoryTransport(net) })));
await Promise.all(nodes.map((n) => n.ready()));
const leader = nodes.find((n) => n.status().role === 'leader')!;
for (let round = 0; round < 3; round++) {
  const N = 5000; let next = 0;
  for (const k in stats) stats[k] = { saves: 0, entries: 0, ms: 0 };
  trace = round === 2;
  const t = performance.now();
  await Promise.all(Array.from({ length: 256 }, async () => { while (next < N) { const i = next++; await leader.put('/f/' + i, i); } }));
  console.log('3-node flood', Math.round(N / ((performance.now() - t) / 1000)), 'puts/s', JSON.stringify(stats));
}
await Promise.all(nodes.map((n) => n.close()));
