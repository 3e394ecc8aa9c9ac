// Proves the node's lifecycle surface in-process: the `close` event fires once with the reason
// the member stopped (closed by the app, removed by a committed configuration change, or a fatal
// storage failure carrying the error), an app logger with `child` gets the member id bound, and
// backup()/snapshotBytes() report their progress in bytes up to the total.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, MemoryNetwork, memoryStorage, memoryTransport } from '../../src/index.ts';
import type { CloseEvent, Logger, Progress, QuorumNode } from '../../src/index.ts';
import { pino } from 'pino';
import { waitFor } from '../helpers/time.ts';

const FAST = { heartbeatMs: 20, electionTimeoutMs: 200 } as const;
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function closeEvents(node: QuorumNode): CloseEvent[] {
  const seen: CloseEvent[] = [];
  node.on('close', (e) => seen.push(e));
  return seen;
}

test('close() by the app: one close event with reason closed', async () => {
  const node = await createNode({ id: 'n1', storage: memoryStorage(), logger: quiet, ...FAST });
  const seen = closeEvents(node);
  await node.ready();
  await node.close();
  await node.close();
  assert.equal(seen, [{ reason: 'closed' }]);
});

test('a failed storage write stops the member with reason fatal and the error', async () => {
  const storage = memoryStorage();
  const save = storage.save.bind(storage);
  let broken = false;
  storage.save = (batch) => (broken ? Promise.reject(new Error('test: disk gone')) : save(batch));
  const node = await createNode({ id: 'n1', storage, logger: quiet, ...FAST });
  const seen = closeEvents(node);
  await node.ready();
  broken = true;
  await node.put('k', 'v').catch(() => undefined);
  await waitFor(() => seen.length > 0, 'close event after the fatal error', 5_000);
  const event = seen[0];
  assert.is(event?.reason, 'fatal');
  assert.match(event?.reason === 'fatal' ? event.error.message : '', /disk gone/);
  assert.ok(node.closed);
  await node.close();
  assert.is(seen.length, 1, 'close fires once');
});

async function removalCloses(pick: (nodes: QuorumNode[]) => QuorumNode, seed: number): Promise<void> {
  const network = new MemoryNetwork({ seed });
  const base = 17_100 + seed * 10;
  const peers = { n1: `ws://127.0.0.1:${base + 1}`, n2: `ws://127.0.0.1:${base + 2}`, n3: `ws://127.0.0.1:${base + 3}` };
  const nodes = await Promise.all(Object.keys(peers).map((id) => createNode({ id, peers, storage: memoryStorage(), transport: memoryTransport(network), logger: quiet, ...FAST })));
  try {
    await Promise.all(nodes.map((n) => n.ready({ timeoutMs: 10_000 })));
    const victim = pick(nodes);
    const asker = nodes.find((n) => n !== victim) as QuorumNode;
    const seen = closeEvents(victim);
    await asker.cluster.remove(victim.id);
    await waitFor(() => seen.length > 0, `close event on the removed member ${victim.id}`, 5_000);
    assert.equal(seen, [{ reason: 'removed' }]);
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}

const leaderOf = (nodes: QuorumNode[]): QuorumNode => nodes.find((n) => n.status().role === 'leader') ?? (nodes[0] as QuorumNode);

test('a removed leader: reason removed (it applies its own removal)', async () => {
  await removalCloses(leaderOf, 7);
});

test('a removed follower: reason removed (the members that apply the removal tell it)', async () => {
  await removalCloses((nodes) => nodes.find((n) => n !== leaderOf(nodes)) as QuorumNode, 8);
});

test('an app logger with child() gets { member: id } bound', async () => {
  const bindings: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const child: Logger = { debug() {}, info() {}, warn: (_o, msg) => lines.push(msg), error: (_o, msg) => lines.push(msg) };
  const logger: Logger = { ...quiet, child: (b) => (bindings.push(b), child) };
  const node = await createNode({ id: 'n9', storage: memoryStorage(), logger, ...FAST });
  await node.close();
  assert.equal(bindings, [{ member: 'n9' }]);
  assert.is(node.logger, child);
});

test('a real pino logger: every line the member writes names it', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const node = await createNode({ id: 'p7', storage: memoryStorage(), logger, ...FAST });
  await node.ready();
  await node.close();
  assert.ok(lines.length > 0, 'the member logged');
  for (const line of lines) assert.is((JSON.parse(line) as { member?: string }).member, 'p7', line);
});

test('backup() and snapshotBytes() report progress up to the total', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'qkv-progress-'));
  const node = await createNode({ id: 'n1', storage: memoryStorage(), logger: quiet, ...FAST });
  try {
    await node.ready();
    const value = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 40; i++) await node.put(`k${i}`, value);
    const written: Progress[] = [];
    const info = await node.backup(join(dir, 'b.snap'), { onProgress: (p) => written.push(p) });
    assert.ok(written.length >= 2, `several progress reports for ${info.sizeBytes} bytes (got ${written.length})`);
    assert.equal(written.at(-1), { bytes: info.sizeBytes, totalBytes: info.sizeBytes });
    for (let i = 1; i < written.length; i++) assert.ok((written[i]?.bytes ?? 0) > (written[i - 1]?.bytes ?? 0), 'bytes only grow');
    assert.is((await stat(join(dir, 'b.snap'))).size, info.sizeBytes);
    const encoded: Progress[] = [];
    const bytes = await node.snapshotBytes({ onProgress: (p) => { encoded.push(p); throw new Error('a listener that throws is ignored'); } });
    assert.equal(encoded.at(-1), { bytes: bytes.length, totalBytes: bytes.length });
  } finally {
    await node.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
