// A one-member node on memory storage with its client endpoint on a free port and an HTTP/2
// session to it: the fixture of the gRPC tests that speak raw HTTP/2. Not a test file.
import { connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { createNode } from '../../src/create-node.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import type { GrpcServerOptions } from '../../src/grpc/server.ts';
import { ProtoReader } from '../../src/grpc/wire.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';

export interface SingleEndpoint {
  readonly node: QuorumNode;
  readonly server: ClientServer;
  readonly session: ClientHttp2Session;
}

/** Starts member `id` (raw byte values, short timers), waits for it to lead, and connects. */
export async function startSingleEndpoint(id: string, grpcOptions: GrpcServerOptions = {}): Promise<SingleEndpoint> {
  const node = await createNode({ id, storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  const server = await startClientEndpoint(node, { port: 0 }, grpcOptions);
  const session = connect(server.url);
  session.on('error', () => {});
  return { node, server, session };
}

/** Closes the session, the endpoint and the member, in that order. */
export async function closeSingleEndpoint(e: SingleEndpoint): Promise<void> {
  e.session.close();
  await e.server.close();
  await e.node.close();
}

/** The `kvs[0].value` of a RangeResponse (or an election LeaderResponse), as text. */
export function firstKvValue(msg: Buffer): string | undefined {
  const r = new ProtoReader(msg);
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field !== 2) {
      r.skip(wire);
      continue;
    }
    const kv = r.message();
    while (!kv.done) {
      const t = kv.tag();
      if (t.field === 5) return Buffer.from(kv.bytes()).toString();
      kv.skip(t.wire);
    }
  }
  return undefined;
}
