import { createNode } from '../../../src/node/create.ts';
import { memoryStorage } from '../../../src/storage/memory-storage.ts';
const node = await createNode({ id: 'n1', storage: memoryStorage() });
await node.ready();
for (let round = 0; round < 4; round++) {
  const N = 20000; let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: 256 }, async () => { while (next < N) { const i = next++; await node.put('/f/' + (i % 1000), i); } }));
  console.log('memory flood', Math.round(N / ((performance.now() - t) / 1000)), 'puts/s');
}
const t = performance.now();
for (let i = 0; i < 20000; i++) await node.get('/f/1');
console.log('lin get seq', Math.round(20000 / ((performance.now() - t) / 1000)));
await node.close();
