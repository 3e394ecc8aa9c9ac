// in-process: sender + receiver in one process, CPU per message split user/system
import { wsTransport } from '../src/transport/ws-transport.ts';
import type { Message } from '../src/protocol/types.ts';
const quiet = { info() {}, warn() {}, error() {} };
const DATA = new Uint8Array(48).fill(7);
let got = 0;
const b = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, logger: quiet });
await b.start('b', { onMessages: (_f, m) => { got += m.length; }, onUnreachable() {} });
const a = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, logger: quiet, peers: { b: b.url() }, maxQueueMessages: 1 << 20, maxQueueBytes: 1 << 30 });
await a.start('a', { onMessages() {}, onUnreachable() {} });
await new Promise((r) => setTimeout(r, 200));
for (let k = 0; k < 3; k++) {
  got = 0;
  const N = 200_000;
  const c0 = process.cpuUsage(); const t0 = Date.now();
  for (let s = 0; s < N; s += 1000) {
    const batch: Message[] = [];
    for (let i = 0; i < 1000; i++) batch.push({ type: 'append', from: 'a', to: 'b', term: 7, logTerm: 7, index: s + i, entries: [{ term: 7, index: s + i + 1, type: 'normal', data: DATA }], commit: 0, reject: false, rejectHint: 0 });
    a.send('b', batch);
    if (s % 20000 === 0) await new Promise((r) => setImmediate(r));
    while (s - got > 40000) await new Promise((r) => setTimeout(r, 1));
  }
  while (got < N) await new Promise((r) => setTimeout(r, 1));
  const c = process.cpuUsage(c0);
  console.log(`in-process ${Math.round(N / ((Date.now() - t0) / 1000))} msgs/s; CPU user ${(c.user / N).toFixed(2)} µs/msg system ${(c.system / N).toFixed(2)} µs/msg (sender+receiver)`);
}
await a.stop(); await b.stop();
