/**
 * ws transport between two PROCESSES on loopback: this process and a spawned child member.
 *
 * - Round-trip latency (p50/p99) of one ~100-byte message: the child echoes each `heartbeat`
 *   straight back; one message in flight at a time (unbatched by construction).
 * - Messages/s one way, parent → child, ~100-byte messages, counted by the child (it acknowledges
 *   every received frame with one small message): "batched" sends 1000 messages per send() call
 *   (coalesced into frames of up to maxBatchMessages); "unbatched" sets maxBatchMessages: 1 so every
 *   message is its own WebSocket frame.
 *
 * Each figure is the median of RUNS runs. Run: `npm run bench:transport` (env: RUNS, RTT_SAMPLES,
 * TPUT_MESSAGES). Targets (issue #5): p50 RTT <= 100 µs; >= 500,000 msgs/s batched.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { availableParallelism, loadavg } from 'node:os';
import { wsTransport } from '../src/transport/ws-transport.ts';
import type { WsTransport } from '../src/transport/ws-transport.ts';
import type { Message, PeerMessage } from '../src/protocol/types.ts';
import { WireCodec } from '../src/transport/wire.ts';
import type { TransportLogger } from '../src/transport/logger.ts';
import { median, percentileOfSorted, sorted } from './stats.ts';

const quiet: TransportLogger = { info() {}, warn() {}, error: (o, m) => console.error(m, o) };
const RUNS = Number(process.env['RUNS'] ?? 5);
const RTT_SAMPLES = Number(process.env['RTT_SAMPLES'] ?? 5000);
const TPUT_MESSAGES = Number(process.env['TPUT_MESSAGES'] ?? 300_000);
const WINDOW = Number(process.env['WINDOW'] ?? 20_000);
const DATA = new Uint8Array(48).fill(7); // => about 100 bytes per message on the wire (printed below)

function message(from: string, to: string, type: Message['type'], index: number): Message {
  return { type, from, to, term: 7, logTerm: 7, index, entries: type === 'append' ? [{ term: 7, index: index + 1, type: 'normal', data: DATA }] : [], commit: index, reject: false, rejectHint: 0 };
}

async function child(parentUrl: string, unbatched: boolean): Promise<void> {
  const t: WsTransport = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { parent: parentUrl }, logger: quiet, maxQueueMessages: 1 << 20, maxQueueBytes: 1 << 30, ...(unbatched ? { maxBatchMessages: 1 } : {}) });
  await t.start('child', {
    onMessages(from, messages) {
      const first = messages[0]!;
      if (first.type === 'heartbeat') {
        t.send(from, messages.map((m) => ({ ...(m as Message), from: 'child', to: from, type: 'heartbeatResponse' as const })));
      } else {
        t.send(from, [message('child', from, 'appendResponse', messages.length)]);
      }
    },
    onUnreachable() {},
  });
  console.log(`URL ${t.url()}`);
  process.stdin.on('end', () => void t.stop().then(() => process.exit(0)));
  process.stdin.resume();
}

interface Harness {
  readonly t: WsTransport;
  onReply: (messages: readonly PeerMessage[]) => void;
  close(): Promise<void>;
}

async function harness(unbatched: boolean): Promise<Harness> {
  const h = { onReply: (_m: readonly PeerMessage[]) => {} } as { t: WsTransport; onReply: (m: readonly PeerMessage[]) => void; close(): Promise<void> };
  const t = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, logger: quiet, maxQueueMessages: 1 << 20, maxQueueBytes: 1 << 30, ...(unbatched ? { maxBatchMessages: 1 } : {}) });
  await t.start('parent', { onMessages: (_from, messages) => h.onReply(messages), onUnreachable() {} });
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--child', t.url(), unbatched ? 'unbatched' : 'batched'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => line.startsWith('URL ') && resolve(line.slice(4)));
    proc.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  t.addPeer('child', url);
  h.t = t;
  h.close = async () => {
    proc.stdin.end();
    await new Promise((r) => proc.once('exit', r));
    await t.stop();
  };
  // Wait until the child → parent connection is up too (first echo arrives).
  for (let ok = false; !ok; ) {
    ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      h.onReply = () => {
        clearTimeout(timer);
        resolve(true);
      };
      t.send('child', [message('parent', 'child', 'heartbeat', 0)]);
    });
  }
  return h;
}

async function rtt(h: Harness, samples: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      h.onReply = () => resolve();
      h.t.send('child', [message('parent', 'child', 'heartbeat', i)]);
    });
    out.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return sorted(out);
}

/** Sender-side CPU per message of the last throughput run, µs (independent of machine load). */
let lastSenderCpuUsPerMessage = 0;

async function throughput(h: Harness, total: number, perSend: number, windowMessages: number): Promise<number> {
  let acked = 0;
  let sent = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent < total && sent - acked < windowMessages) {
        const batch: Message[] = [];
        for (let i = 0; i < perSend && sent < total; i++) batch.push(message('parent', 'child', 'append', sent++));
        h.t.send('child', batch);
      }
    };
    h.onReply = (messages) => {
      for (const m of messages) acked += (m as Message).index;
      if (acked >= total) resolve();
      else pump();
    };
    pump();
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  lastSenderCpuUsPerMessage = (cpu.user + cpu.system) / total;
  return total / seconds;
}


async function main(): Promise<void> {
  const wireBytes = new WireCodec().encodeBatch([message('parent', 'child', 'append', 123456)]).byteLength;
  console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs`);
  console.log(`ws transport, two processes on 127.0.0.1, Node ${process.version}; one message = ${wireBytes} bytes on the wire (frame of 1); ${RUNS} runs, medians`);
  const batched = await harness(false);
  await rtt(batched, 1000); // warm-up
  const p50s: number[] = [];
  const p99s: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const s = await rtt(batched, RTT_SAMPLES);
    p50s.push(percentileOfSorted(s, 50));
    p99s.push(percentileOfSorted(s, 99));
  }
  console.log(`round trip (1 message in flight): p50 ${median(p50s).toFixed(1)} µs, p99 ${median(p99s).toFixed(1)} µs  (runs p50: ${p50s.map((x) => x.toFixed(0)).join(', ')})`);
  await throughput(batched, 50_000, 1000, 20_000); // warm-up
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    rates.push(await throughput(batched, TPUT_MESSAGES, 1000, WINDOW));
    cpus.push(lastSenderCpuUsPerMessage);
  }
  console.log(`batched:   ${Math.round(median(rates)).toLocaleString('en-US')} msgs/s one way (1000 per send, window ${WINDOW})  (runs: ${rates.map((x) => Math.round(x / 1000) + 'k').join(', ')}); sender CPU ${median(cpus).toFixed(2)} µs/msg`);
  await batched.close();
  const unbatched = await harness(true);
  await throughput(unbatched, 20_000, 1, 2000);
  const urates: number[] = [];
  const ucpus: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    urates.push(await throughput(unbatched, Math.min(TPUT_MESSAGES, 100_000), 100, 2000));
    ucpus.push(lastSenderCpuUsPerMessage);
  }
  console.log(`unbatched: ${Math.round(median(urates)).toLocaleString('en-US')} msgs/s one way (one message per frame, window 2000)  (runs: ${urates.map((x) => Math.round(x / 1000) + 'k').join(', ')}); sender CPU ${median(ucpus).toFixed(2)} µs/msg`);
  await unbatched.close();
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4] === 'unbatched');
else await main();
