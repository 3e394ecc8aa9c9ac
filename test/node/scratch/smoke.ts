import { Driver } from '../../../src/node/driver.ts';
import { QuorumNode } from '../../../src/node/node.ts';
import { normalizeOptions } from '../../../src/node/options.ts';
import { msgpackCodec, encodeConfContext } from '../../../src/node/codec.ts';
import { bootstrapBatch } from '../../../src/raft/conf-change.ts';
import { stubStorage } from '../helpers/stub-storage.ts';

const storage = stubStorage();
const config = normalizeOptions({ id: 'n1', storage, heartbeatMs: 20, electionTimeoutMs: 100 });
const b = bootstrapBatch(['n1'], { n1: encodeConfContext({ url: '', proposal: '' }) });
await storage.save({ hardState: b.hardState, entries: b.entries });
const driver = new Driver({ config, storage, transport: undefined, limits: {} });
const node = new QuorumNode(driver, config, msgpackCodec);
await driver.start();
await node.ready();
console.log(node.status());
const r = await node.put('/a', { x: 1 });
console.log(r, await node.get('/a'));
console.log(await node.range({ prefix: '/' }));
const w = node.watch('/a');
setTimeout(() => node.put('/a', 2), 10);
for await (const ev of w) { console.log('ev', ev); break; }
const l = await node.grantLease(100);
console.log('lease', l.id, l.ttlMs, await l.keepAlive(), await l.timeToLive({ keys: true }));
await node.put('/l', 1, { lease: l.id });
const res = await node.txn().if().then().commit();
console.log(res);
await node.close();
console.log('closed');
