/**
 * One member of the demo cluster (examples/demo.ts starts three of these as child processes).
 * It runs a real member — ws transport on loopback, file storage in its data dir — and does what
 * the parent asks over the IPC channel: report status, put, read, watch, take a lock.
 * Usage (by demo.ts): node --import tsx examples/demo-member.ts <id> <dataDir> <peersJson>
 */
import { writeSync } from 'node:fs';
import { acquireLock, cmp, createNode, op } from '../src/index.ts';
import type { QuorumNode } from '../src/index.ts';

export type DemoCommand =
  | { readonly type: 'status' }
  | { readonly type: 'put'; readonly key: string; readonly value: unknown }
  | { readonly type: 'range'; readonly prefix: string; readonly consistency?: 'linearizable' | 'serializable' }
  | { readonly type: 'watch'; readonly prefix: string }
  | { readonly type: 'lock'; readonly name: string; readonly holdMs: number; readonly resource: string }
  | { readonly type: 'close' };

export interface DemoRequest {
  readonly seq: number;
  readonly command: DemoCommand;
}

export type DemoMessage =
  | { readonly kind: 'reply'; readonly seq: number; readonly ok: true; readonly result: unknown }
  | { readonly kind: 'reply'; readonly seq: number; readonly ok: false; readonly error: string }
  | { readonly kind: 'event'; readonly name: string; readonly data: Record<string, unknown> };

const [id, dataDir, peersJson] = process.argv.slice(2);
if (id === undefined || dataDir === undefined || peersJson === undefined) throw new Error('usage: demo-member.ts <id> <dataDir> <peersJson>');
const peers = JSON.parse(peersJson) as Record<string, string>;
// Errors go to stderr (the demo shows them if it fails); DEMO_DEBUG=1 adds warnings and info.
const debug = process.env['DEMO_DEBUG'] === '1';
const line = (level: string, obj: object, msg: string): void => {
  writeSync(2, `${id} ${level}: ${msg} ${JSON.stringify(obj)}\n`);
};
const logger = {
  debug() {},
  info: (obj: object, msg: string) => (debug ? line('info', obj, msg) : undefined),
  warn: (obj: object, msg: string) => (debug ? line('warn', obj, msg) : undefined),
  error: (obj: object, msg: string) => line('error', obj, msg),
};

function send(message: DemoMessage): void {
  process.send?.(message);
}

const node: QuorumNode = await createNode({ id, peers, dataDir, logger });
node.on('leader', ({ leader, term }) => send({ kind: 'event', name: 'leader', data: { member: id, leader, term } }));
await node.ready();
send({ kind: 'event', name: 'ready', data: { member: id, ...node.status() } });

let closing = false;

async function handle(command: DemoCommand): Promise<unknown> {
  switch (command.type) {
    case 'status':
      return node.status();
    case 'put':
      return (await node.put(command.key, command.value)).revision;
    case 'range': {
      const res = await node.range({ prefix: command.prefix }, { consistency: command.consistency ?? 'linearizable' });
      return { revision: res.revision, kvs: res.kvs.map((kv) => ({ key: kv.key, value: kv.value, modRevision: kv.modRevision })) };
    }
    case 'watch': {
      const watch = node.watch({ prefix: command.prefix });
      watch.on('event', (ev) => send({ kind: 'event', name: 'watch', data: { member: id, type: ev.type, key: ev.kv.key, value: ev.kv.value, revision: ev.revision } }));
      watch.on('error', (err) => closing || send({ kind: 'event', name: 'watch-error', data: { member: id, error: err.message } }));
      return true;
    }
    case 'lock': {
      const lock = await acquireLock(node, command.name, { ttlMs: 3_000, timeoutMs: 15_000 });
      send({ kind: 'event', name: 'lock-acquired', data: { member: id, token: lock.fencingToken } });
      const res = await node.txn().if(cmp.owns(lock)).then(op.put(command.resource, `written by ${id} with token ${lock.fencingToken}`)).commit();
      await new Promise((r) => setTimeout(r, command.holdMs));
      send({ kind: 'event', name: 'lock-released', data: { member: id, token: lock.fencingToken } });
      await lock.release();
      return { token: lock.fencingToken, fencedWrite: res.succeeded, revision: res.revision };
    }
    case 'close':
      closing = true;
      await node.close();
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (raw) => {
  const request = raw as DemoRequest;
  handle(request.command).then(
    (result) => send({ kind: 'reply', seq: request.seq, ok: true, result }),
    (err: unknown) => send({ kind: 'reply', seq: request.seq, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
  );
});
// The parent going away (the demo was interrupted) takes this member with it.
process.on('disconnect', () => {
  void node.close().finally(() => process.exit(0));
});
