/**
 * The member's client endpoint with gRPC: the HTTP/1.1 JSON gateway and etcd's v3 gRPC services
 * on one port (as etcd's client URL): h2c by the HTTP/2 preface, or with `tls` HTTP/2 by ALPN.
 */
import { startClientServer } from '../gateway/server.ts';
import type { ClientEndpointOptions, ClientServer } from '../gateway/server.ts';
import type { QuorumNode } from '../node/node.ts';
import { createPortFront } from './front.ts';
import { createGrpcServer } from './server.ts';
import type { GrpcServerOptions } from './server.ts';

export async function startClientEndpoint(node: QuorumNode, options: ClientEndpointOptions = {}, grpcOptions: GrpcServerOptions = {}): Promise<ClientServer> {
  const grpc = createGrpcServer(node, options.token === undefined ? grpcOptions : { token: options.token, ...grpcOptions });
  const server = await startClientServer(node, options, { front: (http, tls) => createPortFront(http, (socket) => grpc.handleConnection(socket), tls) });
  grpc.setClientUrl(server.url);
  let closing: Promise<void> | undefined;
  return {
    get url() {
      return server.url;
    },
    close(): Promise<void> {
      closing ??= Promise.all([server.close(), grpc.close()]).then(() => undefined);
      return closing;
    },
  };
}
