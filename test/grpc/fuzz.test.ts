// Random and mutated protobuf to every method: each call ends with a gRPC status (never a hang or
// a crash), malformed input is INVALID_ARGUMENT, and the member serves normally afterwards.
import type { ClientHttp2Session } from 'node:http2';
import { test } from 'uvu';
import { closeSingleEndpoint, startSingleEndpoint } from './single-endpoint.ts';
import * as assert from 'uvu/assert';
import { frame } from '../../src/grpc/framing.ts';
import { ProtoWriter } from '../../src/grpc/wire.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import type { QuorumNode } from '../../src/node/node.ts';

const METHODS = [
  '/etcdserverpb.KV/Range', '/etcdserverpb.KV/Put', '/etcdserverpb.KV/DeleteRange', '/etcdserverpb.KV/Txn', '/etcdserverpb.KV/Compact',
  '/etcdserverpb.Watch/Watch', '/etcdserverpb.Lease/LeaseGrant', '/etcdserverpb.Lease/LeaseRevoke', '/etcdserverpb.Lease/LeaseKeepAlive',
  '/etcdserverpb.Lease/LeaseTimeToLive', '/etcdserverpb.Lease/LeaseLeases', '/etcdserverpb.Cluster/MemberList', '/etcdserverpb.Cluster/MemberRemove',
  '/etcdserverpb.Cluster/MemberPromote', '/etcdserverpb.Maintenance/Status', '/etcdserverpb.Maintenance/Alarm', '/etcdserverpb.Maintenance/MoveLeader',
  '/v3lockpb.Lock/Unlock', '/v3electionpb.Election/Leader', '/v3electionpb.Election/Proclaim', '/v3electionpb.Election/Resign',
  ...['AuthEnable', 'AuthDisable', 'Authenticate', 'UserAdd', 'UserGet', 'UserList', 'UserDelete', 'UserChangePassword', 'UserGrantRole', 'UserRevokeRole',
    'RoleAdd', 'RoleGet', 'RoleList', 'RoleDelete', 'RoleGrantPermission', 'RoleRevokePermission'].map((m) => `/etcdserverpb.Auth/${m}`),
];
// Statuses a garbage request may get: OK (it happened to be valid), INVALID_ARGUMENT, NOT_FOUND,
// FAILED_PRECONDITION, OUT_OF_RANGE, INTERNAL (framing), DEADLINE_EXCEEDED (a stream left open).
const ALLOWED = new Set([0, 3, 4, 5, 9, 11, 13]);

let seed = 12345;
const rand = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};

let node: QuorumNode;
let server: ClientServer;
let session: ClientHttp2Session;

function call(path: string, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '2S' });
    let status = -1;
    req.on('response', (h) => h['grpc-status'] !== undefined && (status = Number(h['grpc-status'])));
    req.on('trailers', (t) => (status = Number(t['grpc-status'])));
    req.on('data', () => {});
    req.on('error', () => {});
    req.on('close', () => resolve(status));
    req.end(body);
  });
}

function garbage(): Uint8Array {
  const valid = new ProtoWriter().bytes(1, Buffer.from('fz/k')).bytes(2, Buffer.from('v')).int(3, rand(5)).bool(4, true).finish();
  const out = rand(2) === 0 ? Uint8Array.from({ length: rand(64) }, () => rand(256)) : Uint8Array.from(valid);
  for (let i = rand(4); i > 0 && out.length > 0; i--) out[rand(out.length)] = rand(256);
  return out;
}

test.before(async () => {
  ({ node, server, session } = await startSingleEndpoint('f1'));
});

test.after(() => closeSingleEndpoint({ node, server, session }));

test('every method answers random and mutated messages with a status', async () => {
  const seen = new Map<number, number>();
  for (let round = 0; round < 15; round++) {
    const statuses = await Promise.all(METHODS.map((m) => call(m, frame(garbage()))));
    for (const [i, s] of statuses.entries()) {
      assert.ok(ALLOWED.has(s), `${METHODS[i] as string}: status ${s}`);
      seen.set(s, (seen.get(s) ?? 0) + 1);
    }
  }
  assert.ok((seen.get(3) ?? 0) > 0, 'some input was refused as INVALID_ARGUMENT');
  const ok = await call('/etcdserverpb.KV/Put', frame(new ProtoWriter().bytes(1, Buffer.from('after')).bytes(2, Buffer.from('fuzz')).finish()));
  assert.is(ok, 0);
  assert.ok(!node.closed);
});

test.run();
