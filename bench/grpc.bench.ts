// `npm run bench:grpc`: puts/s and linearizable gets/s through the same etcd v3 client (the
// `etcd3` npm package, grpc-js) at 256 requests in flight, against a standalone quorumkv member
// and — when Debian's `etcd` is installed — a real single-member etcd on the same machine; then
// the protobuf codec: this package's hand-written one against protobufjs (what @grpc/proto-loader
// uses) on a PutRequest decode and a RangeResponse encode.
// Env: QKV_BENCH_MS (per phase, default 3000), QKV_BENCH_INFLIGHT (default 256).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { stopProcess } from '../test/helpers/process.ts';

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort, removeDir, startMember, tempDir, waitFor } from '../test/cli/helpers.ts';
import { decodePut, writeRangeBody } from '../src/grpc/messages-kv.ts';
import { ProtoReader, ProtoWriter } from '../src/grpc/wire.ts';

const PHASE_MS = Number(process.env['QKV_BENCH_MS'] ?? 3000);
const INFLIGHT = Number(process.env['QKV_BENCH_INFLIGHT'] ?? 256);

async function closedLoop(fn: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  let next = 0;
  const end = Date.now() + PHASE_MS;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (Date.now() < end) {
        await fn(next++);
        done++;
      }
    }),
  );
  return Math.round((done * 1000) / (Date.now() - started));
}

async function measure(label: string, url: string): Promise<{ puts: number; gets: number }> {
  const client = new Etcd3({ hosts: url });
  const value = 'v'.repeat(100);
  await Promise.all(Array.from({ length: 1000 }, (_, i) => client.put(`bench/${i}`).value(value)));
  await closedLoop((i) => client.put(`bench/${i % 1000}`).value(value).exec()); // warm-up
  const puts = await closedLoop((i) => client.put(`bench/${i % 1000}`).value(value).exec());
  const gets = await closedLoop((i) => client.get(`bench/${i % 1000}`).string());
  client.close();
  console.log(`${label.padEnd(10)} puts/s ${String(puts).padStart(7)}   linearizable gets/s ${String(gets).padStart(7)}   (${INFLIGHT} in flight, ${PHASE_MS} ms each)`);
  return { puts, gets };
}

function codecBench(): void {
  const require = createRequire(import.meta.url);
  const protobuf = require('protobufjs') as {
    Root: { fromJSON(json: unknown): { lookupType(name: string): { decode(b: Uint8Array): unknown; encode(m: unknown): { finish(): Uint8Array }; fromObject(o: unknown): unknown } } };
  };
  const root = protobuf.Root.fromJSON({
    nested: {
      PutRequest: { fields: { key: { type: 'bytes', id: 1 }, value: { type: 'bytes', id: 2 }, lease: { type: 'int64', id: 3 }, prev_kv: { type: 'bool', id: 4 } } },
      Header: { fields: { cluster_id: { type: 'uint64', id: 1 }, member_id: { type: 'uint64', id: 2 }, revision: { type: 'int64', id: 3 }, raft_term: { type: 'uint64', id: 4 } } },
      KeyValue: { fields: { key: { type: 'bytes', id: 1 }, create_revision: { type: 'int64', id: 2 }, mod_revision: { type: 'int64', id: 3 }, version: { type: 'int64', id: 4 }, value: { type: 'bytes', id: 5 }, lease: { type: 'int64', id: 6 } } },
      RangeResponse: { fields: { header: { type: 'Header', id: 1 }, kvs: { rule: 'repeated', type: 'KeyValue', id: 2 }, more: { type: 'bool', id: 3 }, count: { type: 'int64', id: 4 } } },
    },
  });
  const PutRequest = root.lookupType('PutRequest');
  const RangeResponse = root.lookupType('RangeResponse');
  const put = new ProtoWriter().bytes(1, Buffer.from('bench/123')).bytes(2, Buffer.alloc(100, 118)).int(3, 7).finish();
  const kv = { key: Buffer.from('bench/123'), createRevision: 5, modRevision: 900, version: 12, value: Buffer.alloc(100, 118), lease: 0 };
  const header = { clusterId: 0xeb0a4c2cd73f27b4n, memberId: 0x8a98b07b5509b6bn, revision: 901, raftTerm: 2 };
  const N = 200_000;
  const time = (fn: () => void): number => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn();
    return Math.round(N / (Number(process.hrtime.bigint() - t) / 1e9));
  };
  const ourDecode = time(() => decodePut(new ProtoReader(put)));
  const pbDecode = time(() => PutRequest.decode(put));
  const ourEncode = time(() => {
    const w = new ProtoWriter();
    writeRangeBody(w, header, { kvs: [kv], more: false, count: 1 });
    w.finish();
  });
  const pbMsg = { header: { cluster_id: '16934654335536564554', member_id: '624182888590515051', revision: 901, raft_term: 2 }, kvs: [{ key: kv.key, create_revision: 5, mod_revision: 900, version: 12, value: kv.value }], count: 1 };
  const pbEncode = time(() => RangeResponse.encode(RangeResponse.fromObject(pbMsg)).finish());
  console.log(`codec      PutRequest decode/s: hand-written ${ourDecode}, protobufjs ${pbDecode};  RangeResponse(1 kv) encode/s: hand-written ${ourEncode}, protobufjs ${pbEncode}`);
}

async function main(): Promise<void> {
  codecBench();
  const dir = tempDir('bench-grpc');
  const [pp, cp, ep, epp] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const member = startMember({ name: 'b1', peerPort: pp as number, clientPort: cp as number, dataDir: join(dir, 'q') });
  let etcd: ChildProcess | undefined;
  try {
    const qUrl = `http://127.0.0.1:${cp}`;
    await waitFor('quorumkv ready', async () => ((await fetch(`${qUrl}/health`)).ok ? true : undefined), 30_000, 200);
    const q = await measure('quorumkv', qUrl);
    if (spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0) {
      const eUrl = `http://127.0.0.1:${ep}`;
      etcd = spawn('etcd', ['--name', 'ref', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', eUrl, '--advertise-client-urls', eUrl, '--listen-peer-urls', `http://127.0.0.1:${epp}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${epp}`, '--initial-cluster', `ref=http://127.0.0.1:${epp}`], { stdio: 'ignore' });
      await waitFor('etcd ready', async () => ((await fetch(`${eUrl}/health`)).ok ? true : undefined), 30_000, 200);
      const e = await measure('etcd', eUrl);
      console.log(`ratio      puts ${(q.puts / e.puts).toFixed(2)}x   gets ${(q.gets / e.gets).toFixed(2)}x`);
    } else console.log('etcd not installed: no comparison');
  } finally {
    await stopProcess(etcd);
    await member.stop();
    removeDir(dir);
  }
}

await main();
