// The Watch stream's semantics over raw HTTP/2: many watches on one stream with assigned and
// client-chosen ids, a duplicate id, filters, prev_kv, cancel, progress requests (watch_id -1),
// compacted start revisions (canceled + compact_revision), and the per-stream watch limit.
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { test } from 'uvu';
import { closeSingleEndpoint, startSingleEndpoint } from './single-endpoint.ts';
import * as assert from 'uvu/assert';
import { frame } from '../../src/grpc/framing.ts';
import { ProtoReader, ProtoWriter } from '../../src/grpc/wire.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { waitFor } from '../cli/helpers.ts';

interface Resp {
  revision: number;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: { type: number; key: string; value: string; modRevision: number; prev?: string }[];
}

function decodeKv(r: ProtoReader): { key: string; value: string; modRevision: number } {
  const kv = { key: '', value: '', modRevision: 0 };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) kv.key = Buffer.from(r.bytes()).toString();
    else if (field === 5) kv.value = Buffer.from(r.bytes()).toString();
    else if (field === 3) kv.modRevision = Number(r.int64());
    else r.skip(wire);
  }
  return kv;
}

function decodeResponse(b: Uint8Array): Resp {
  const out: Resp = { revision: 0, watchId: 0, created: false, canceled: false, compactRevision: 0, cancelReason: '', events: [] };
  const r = new ProtoReader(b);
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) {
      const h = r.message();
      while (!h.done) {
        const t = h.tag();
        if (t.field === 3) out.revision = Number(h.int64());
        else h.skip(t.wire);
      }
    } else if (field === 2) out.watchId = Number(r.int64());
    else if (field === 3) out.created = r.bool();
    else if (field === 4) out.canceled = r.bool();
    else if (field === 5) out.compactRevision = Number(r.int64());
    else if (field === 6) out.cancelReason = Buffer.from(r.bytes()).toString();
    else if (field === 11) {
      const e = r.message();
      let type = 0;
      let kv = { key: '', value: '', modRevision: 0 };
      let prev: string | undefined;
      while (!e.done) {
        const t = e.tag();
        if (t.field === 1) type = Number(e.int64());
        else if (t.field === 2) kv = decodeKv(e.message());
        else if (t.field === 3) prev = decodeKv(e.message()).value;
        else e.skip(t.wire);
      }
      out.events.push({ type, ...kv, ...(prev === undefined ? {} : { prev }) });
    } else r.skip(wire);
  }
  return out;
}

class WatchClient {
  readonly responses: Resp[] = [];
  readonly stream: ClientHttp2Stream;
  #buf = Buffer.alloc(0);
  status: string | undefined;

  constructor(session: ClientHttp2Session) {
    this.stream = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
    this.stream.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 5 && this.#buf.length >= 5 + this.#buf.readUInt32BE(1)) {
        const len = this.#buf.readUInt32BE(1);
        this.responses.push(decodeResponse(this.#buf.subarray(5, 5 + len)));
        this.#buf = this.#buf.subarray(5 + len);
      }
    });
    this.stream.on('trailers', (t) => (this.status = String(t['grpc-status'])));
    this.stream.on('error', () => {});
  }

  create(key: string, o: { rangeEnd?: string; start?: number; prevKv?: boolean; id?: number; filters?: number[] } = {}): void {
    const msg = new ProtoWriter().message(1, (c) => {
      c.bytes(1, Buffer.from(key));
      if (o.rangeEnd !== undefined) c.bytes(2, Buffer.from(o.rangeEnd, 'latin1'));
      c.int(3, o.start ?? 0);
      if (o.filters !== undefined) c.bytes(5, Uint8Array.from(o.filters)); // packed
      c.bool(6, o.prevKv === true).int(7, o.id ?? 0);
    });
    this.stream.write(frame(msg.finish()));
  }

  cancel(id: number): void {
    this.stream.write(frame(new ProtoWriter().message(2, (c) => c.int(1, id)).finish()));
  }

  progress(): void {
    this.stream.write(frame(new ProtoWriter().message(3, () => {}).finish()));
  }

  async waitFor(what: string, pred: (r: Resp) => boolean): Promise<Resp> {
    return waitFor(what, async () => this.responses.find(pred), 5000, 10);
  }
}

let node: QuorumNode;
let server: ClientServer;
let session: ClientHttp2Session;

test.before(async () => {
  ({ node, server, session } = await startSingleEndpoint('w1', { maxWatchesPerStream: 4 }));
});

test.after(() => closeSingleEndpoint({ node, server, session }));

test('many watches on one stream: ids, filters, prev_kv, cancel', async () => {
  const w = new WatchClient(session);
  w.create('a'); // id 0
  w.create('p/', { rangeEnd: 'p0', prevKv: true }); // id 1, a prefix
  w.create('p/', { rangeEnd: 'p0', id: 7, filters: [0] }); // NOPUT
  w.create('b', { id: 7 }); // duplicate id
  await w.waitFor('the duplicate refused', (r) => r.cancelReason === 'mvcc: duplicate watch ID');
  const created = w.responses.filter((r) => r.created && !r.canceled).map((r) => r.watchId);
  assert.equal(created, [0, 1, 7]);
  await node.put('a', new TextEncoder().encode('1'));
  await node.put('p/x', new TextEncoder().encode('x1'));
  await node.put('p/x', new TextEncoder().encode('x2'));
  await node.delete('p/x');
  const onA = await w.waitFor('the event on a', (r) => r.watchId === 0 && r.events.length > 0);
  assert.is(onA.events[0]?.value, '1');
  assert.is(onA.revision, onA.events[0]?.modRevision, 'header revision in etcd numbering');
  await waitFor('the prefix events', async () => (w.responses.filter((r) => r.watchId === 1).flatMap((r) => r.events).length >= 3 ? true : undefined), 5000, 10);
  const prefix = w.responses.filter((r) => r.watchId === 1).flatMap((r) => r.events);
  assert.equal(prefix.map((e) => `${e.type}:${e.key}:${e.value}:${e.prev ?? ''}`), ['0:p/x:x1:', '0:p/x:x2:x1', '1:p/x::x2']);
  const noPut = w.responses.filter((r) => r.watchId === 7).flatMap((r) => r.events);
  assert.equal(noPut.map((e) => e.type), [1]);
  w.cancel(0);
  await w.waitFor('the cancel', (r) => r.watchId === 0 && r.canceled);
  const before = w.responses.length;
  await node.put('a', new TextEncoder().encode('2'));
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(w.responses.slice(before).every((r) => r.watchId !== 0), 'no events after cancel');
  w.stream.close();
});

test('progress request: watch_id -1 with the current revision', async () => {
  const w = new WatchClient(session);
  w.create('q');
  await w.waitFor('created', (r) => r.created);
  w.progress();
  const p = await w.waitFor('progress', (r) => r.watchId === -1);
  assert.is(p.revision, node.status().revision + 1);
  w.stream.close();
});

test('a compacted start revision: created, then canceled with compact_revision', async () => {
  for (let i = 0; i < 3; i++) await node.put('c', new TextEncoder().encode(String(i)));
  const rev = node.status().revision;
  await node.compact(rev);
  const w = new WatchClient(session);
  w.create('c', { start: 2 });
  const canceled = await w.waitFor('the compacted cancel', (r) => r.canceled);
  assert.is(canceled.compactRevision, rev + 1);
  assert.ok(w.responses.some((r) => r.created));
  w.stream.close();
});

test('watches per stream are bounded', async () => {
  const w = new WatchClient(session);
  for (let i = 0; i < 5; i++) w.create(`lim${i}`);
  const refused = await w.waitFor('the fifth refused', (r) => r.canceled && /too many watches/.test(r.cancelReason));
  assert.ok(refused.created);
  assert.is(w.responses.filter((r) => r.created && !r.canceled).length, 4);
  w.stream.close();
});

test.run();
