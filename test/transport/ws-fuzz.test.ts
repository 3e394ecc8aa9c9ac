// Proves a live ws member survives hostile frames from an authenticated peers: thousands of random
// and mutated frames (valid batches and snapshot frames with flipped bytes, truncations, text and
// oversized frames) sent over a raw ws client never crash it or raise an uncaught exception; each
// malformed frame closes only that connection with a logged reason; whatever reaches the handler
// is a well-formed message from the authenticated peer; memory stays bounded; and the member
// still serves a normal peer afterwards. Each fuzz frame is followed by a valid probe frame, so
// the probe's arrival (frame accepted) or the close (frame rejected) settles every frame without
// sleeps. Seeded: QKV_SEED; frame count: QKV_FUZZ_FRAMES (default 2000), bounded by
// QKV_FUZZ_BUDGET_MS of wall time (default 15000; a busy machine prints how many it reached).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { wsTransport } from '../../src/transport/ws-transport.ts';
import type { WsTransport } from '../../src/transport/ws-transport.ts';
import { WireCodec } from '../../src/transport/wire.ts';
import { seededRandom } from '../../src/transport/random.ts';
import type { Message, PeerMessage } from '../../src/protocol/types.ts';
import { capturingLogger, connectAsPeer, msg, recorder, waitFor } from './helpers.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SEED = Number(process.env['QKV_SEED'] ?? Date.now() % 100_000);
const FRAMES = Number(process.env['QKV_FUZZ_FRAMES'] ?? 2000);
/** Wall-clock bound so a loaded machine cannot stretch the suite; the count reached is printed. */
const BUDGET_MS = Number(process.env['QKV_FUZZ_BUDGET_MS'] ?? 15_000);
console.log(`ws-fuzz seed ${SEED}, ${FRAMES} frames (replay: QKV_SEED=${SEED} QKV_FUZZ_FRAMES=${FRAMES} node --import tsx test/transport/ws-fuzz.test.ts)`);

const PROBE_TERM = 424242;
const uncaught: unknown[] = [];
process.on('uncaughtException', (err) => uncaught.push(err));

function wellFormed(m: PeerMessage): boolean {
  if (m.to !== 'n1') return false;
  if (m.type === 'app') return m.payload instanceof Uint8Array && typeof m.channel === 'string';
  const nums = [m.term, m.logTerm, m.index, m.commit, m.rejectHint];
  return nums.every((n) => Number.isSafeInteger(n) && n >= 0) && Array.isArray(m.entries) && typeof m.reject === 'boolean' && (m.context === undefined || m.context.byteLength <= 64);
}

function seedFrames(codec: WireCodec, peer: string): Uint8Array[] {
  const snap: Message = { ...msg(peer, 'n1', 1), type: 'snapshot', entries: [], snapshot: { meta: { index: 3, term: 1, confState: { voters: ['n1', 'n2'], learners: [] } }, data: new Uint8Array(100) } };
  return [
    codec.encodeBatch([msg(peer, 'n1', 1), msg(peer, 'n1', 2, { context: new Uint8Array(8) })]),
    codec.encodeBatch([{ type: 'app', from: peer, to: 'n1', channel: 'c', payload: new Uint8Array(3) }]),
    codec.encodeSnapshotBegin(1, snap, 100),
    codec.encodeSnapshotChunk(1, 0, new Uint8Array(100)),
    codec.encodeSnapshotEnd(1),
    codec.encodeSnapshotAck(1, true),
  ].map((b) => Uint8Array.from(b));
}

function fuzzFrame(random: () => number, seeds: Uint8Array[], i: number): Uint8Array | string {
  const r = random();
  if (i % 97 === 0) return 'a text frame';
  if (i % 89 === 0) return new Uint8Array(200 * 1024).fill(1); // over maxPayloadBytes
  if (r < 0.4) {
    const frame = new Uint8Array(Math.floor(random() * 300));
    for (let j = 0; j < frame.length; j++) frame[j] = Math.floor(random() * 256);
    if (frame.length > 0 && random() < 0.7) frame[0] = 1 + Math.floor(random() * 5);
    return frame;
  }
  let frame = Uint8Array.from(seeds[Math.floor(random() * seeds.length)]!);
  const flips = Math.floor(random() * 5);
  for (let f = 0; f < flips; f++) frame[Math.floor(random() * frame.length)] = Math.floor(random() * 256);
  if (random() < 0.2) frame = frame.subarray(0, Math.floor(random() * frame.length));
  return frame;
}

let member: WsTransport | undefined;

test.after(async () => {
  await member?.stop();
});

const PEERS = ['n2', 'n3', 'n4', 'n5'];

test(`random and mutated frames from authenticated peers (seed ${SEED})`, async () => {
  const log = capturingLogger();
  const rec = recorder();
  const probeArrived = new Map<string, () => void>();
  const record = rec.onMessages.bind(rec);
  rec.onMessages = (from, messages) => {
    record(from, messages);
    if (messages.some((m) => m.type === 'heartbeat' && m.term === PROBE_TERM)) probeArrived.get(from)?.();
  };
  const peers = Object.fromEntries(PEERS.map((p) => [p, 'ws://127.0.0.1:1']));
  member = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers, token: 'secret', logger: log, maxPayloadBytes: 128 * 1024, maxBatchBytes: 64 * 1024, maxSnapshotBytes: 4 * 1024 * 1024, snapshotChunkBytes: 16 * 1024, reconnectBaseMs: 1000 });
  await member.start('n1', rec);
  const url = member.url();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let rejected = 0;
  let accepted = 0;
  const deadline = Date.now() + BUDGET_MS;
  // Four authenticated peers fuzz concurrently (one inbound connection per peer id).
  const fuzzAs = async (peer: string, k: number): Promise<void> => {
    const codec = new WireCodec();
    const seeds = seedFrames(codec, peer);
    const random = seededRandom(SEED * 31 + k);
    let ws = await connectAsPeer(url, peer);
    for (let i = k; i < FRAMES && Date.now() < deadline; i += PEERS.length) {
      const frame = fuzzFrame(random, seeds, i);
      const probe = codec.encodeBatch([msg(peer, 'n1', i, { term: PROBE_TERM, entries: [], type: 'heartbeat' })]);
      const socket = ws;
      let timer: NodeJS.Timeout | undefined;
      const outcome = await new Promise<'closed' | 'probe' | 'timeout'>((resolve) => {
        socket.once('close', () => resolve('closed'));
        probeArrived.set(peer, () => resolve('probe'));
        timer = setTimeout(() => resolve('timeout'), 5000);
        socket.send(frame);
        socket.send(probe);
      });
      clearTimeout(timer);
      if (outcome === 'timeout') throw new Error(`frame ${i} from ${peer} neither accepted nor rejected (QKV_SEED=${SEED})`);
      if (outcome === 'closed') {
        rejected++;
        ws = await connectAsPeer(url, peer);
      } else accepted++;
    }
    ws.terminate();
  };
  await Promise.all(PEERS.map((p, k) => fuzzAs(p, k)));
  console.log(`fuzz: ${rejected} frames rejected (connection closed), ${accepted} accepted; ${member.stats().rejectedFrames} rejections logged`);
  assert.is(uncaught.length, 0, `uncaught: ${String(uncaught[0])}`);
  const total = rejected + accepted;
  if (total < FRAMES) console.log(`fuzz: time budget of ${BUDGET_MS} ms reached after ${total} of ${FRAMES} frames (machine busy)`);
  assert.ok(total >= Math.min(FRAMES, 400), `only ${total} frames in the time budget`);
  assert.ok(rejected > total / 3, 'most random frames are rejected');
  assert.ok(member.stats().rejectedFrames >= rejected - PEERS.length);
  assert.ok(log.has(/closing connection from n\d: malformed frame/));
  assert.ok(log.has(/closing connection from n\d: (unknown frame kind|undecodable msgpack body)/));
  assert.ok(log.has(/Max payload size exceeded/));
  assert.ok(rec.received.every((x) => x.message.from === x.from && wellFormed(x.message)), 'only well-formed messages from the authenticated peer reached the handler');
  rec.received.length = 0;
  gc();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  console.log(`heap growth after fuzzing: ${(growth / 1024 / 1024).toFixed(1)} MiB`);
  assert.ok(growth < 32 * 1024 * 1024, `heap grew ${growth} bytes`);
  // Still healthy: a normal peer gets through.
  const n2 = wsTransport({ listen: { host: '127.0.0.1', port: 0 }, peers: { n1: url }, token: 'secret', logger: capturingLogger() });
  await n2.start('n2', recorder());
  n2.send('n1', [msg('n2', 'n1', 77)]);
  await waitFor(() => rec.received.some((x) => (x.message as Message).index === 77), 'normal delivery after fuzzing');
  await n2.stop();
});

test.run();
