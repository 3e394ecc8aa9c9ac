/**
 * `createNode()`: validate options, open storage, bootstrap a brand-new member (or restore one
 * from a backup), build the transport, start the driver and (optionally) the client endpoint.
 */
import { InvalidArgumentError } from '../errors.ts';
import type { NodeId } from '../protocol/types.ts';
import { bootstrapBatch } from '../raft/conf-change.ts';
import type { Storage } from '../storage/types.ts';
import type { StoreLimits } from '../store/types.ts';
import type { Transport } from '../transport/types.ts';
import { AppliedState } from './applied-state.ts';
import { readBackup } from './backup.ts';
import { decodeAppSnapshot, encodeAppSnapshot, encodeConfContext, msgpackCodec } from './codec.ts';
import { Driver } from './driver.ts';
import { QuorumNode } from './node.ts';
import { normalizeOptions } from './options.ts';
import type { NodeConfig, NodeOptions } from './options.ts';

/**
 * Creates and starts a cluster member. Resolves once storage is recovered and the transport
 * listens; call `node.ready()` to wait for a leader.
 */
export async function createNode(options: NodeOptions): Promise<QuorumNode> {
  const config = normalizeOptions(options);
  const storage = config.storage ?? (await import('../storage/file-storage.ts')).fileStorage(config.dataDir as string, { logger: config.logger });
  await storage.open();
  let transport: Transport | undefined;
  let driver: Driver | undefined;
  try {
    await maybeBootstrap(config, storage);
    transport = config.transport ?? (await defaultTransport(config));
    const limits: StoreLimits = { maxRequestBytes: config.maxRequestBytes, maxTxnOps: config.maxTxnOps, maxKeyBytes: config.maxKeyBytes };
    const state = await AppliedState.open(limits, config.dedupeEntries, storage.snapshot());
    driver = new Driver({ config, storage, transport, limits, state });
    const node = new QuorumNode(driver, config, config.codec ?? msgpackCodec);
    await driver.start();
    if (config.client !== undefined) await startClientEndpoint(node, config);
    return node;
  } catch (err) {
    if (driver !== undefined) await driver.stop().catch(() => {});
    else {
      await transport?.stop().catch(() => {});
      await storage.close().catch(() => {});
    }
    throw err;
  }
}

/**
 * Hook for the HTTP/JSON client endpoint (src/gateway). Loaded lazily so a node without a client
 * endpoint never loads the HTTP server.
 */
async function startClientEndpoint(node: QuorumNode, config: NodeConfig): Promise<void> {
  const { startClientEndpoint } = await import('../grpc/endpoint.ts');
  const server = await startClientEndpoint(node, config.client as Parameters<typeof startClientEndpoint>[1]);
  node.addCloseHook(() => server.close());
  clientUrls.set(node, server.url);
}

/** The client endpoint's URL per node (read with {@link clientUrlOf}). */
const clientUrls = new WeakMap<QuorumNode, string>();

/** The URL of the node's client endpoint, when `client` was given. */
export function clientUrlOf(node: QuorumNode): string | undefined {
  return clientUrls.get(node);
}

/** The default transport; loaded lazily so a single-member or in-memory node never loads ws. */
async function defaultTransport(config: NodeConfig): Promise<Transport | undefined> {
  const ids = Object.keys(config.peers);
  if (ids.length === 0) return undefined;
  const own = new URL(config.peers[config.id] as string);
  const peers: Record<NodeId, string> = {};
  for (const id of ids) if (id !== config.id) peers[id] = config.peers[id] as string;
  const host = own.hostname.startsWith('[') ? own.hostname.slice(1, -1) : own.hostname;
  const port = Number(own.port || (own.protocol === 'wss:' ? 443 : 80));
  const { wsTransport } = await import('../transport/ws-transport.ts');
  return wsTransport({ listen: { host, port }, peers, logger: config.logger, ...(config.token === undefined ? {} : { token: config.token }) });
}

function isFresh(storage: Storage): boolean {
  const { hardState } = storage.initialState();
  return storage.lastIndex() === 0 && storage.snapshot().meta.index === 0 && hardState.term === 0;
}

/**
 * A brand-new member of a new cluster writes the same bootstrap batch as every other initial
 * member: one committed `addVoter` entry per member, carrying its URL. With `restoreFrom`, the
 * backup's store becomes a snapshot at the end of that batch (identical on every member restored
 * from the same file). A joining member writes nothing: the leader sends it a snapshot.
 */
async function maybeBootstrap(config: NodeConfig, storage: Storage): Promise<void> {
  if (!isFresh(storage)) {
    if (config.restoreFrom !== undefined) config.logger.warn({ restoreFrom: config.restoreFrom }, 'node: storage is not empty; restoreFrom ignored');
    return;
  }
  if (config.join) return;
  const peers = Object.keys(config.peers).length > 0 ? config.peers : { [config.id]: '' };
  const voters = Object.keys(peers).sort();
  const contexts: Record<NodeId, Uint8Array> = {};
  for (const id of voters) contexts[id] = encodeConfContext({ url: peers[id] ?? '', proposal: '' });
  const batch = bootstrapBatch(voters, contexts);
  await storage.save({ hardState: batch.hardState, entries: batch.entries });
  if (config.restoreFrom === undefined) return;
  const backup = await readBackup(config.restoreFrom);
  const app = decodeAppSnapshot(backup.data);
  if (app.store.length === 0) throw new InvalidArgumentError(`node: backup ${config.restoreFrom} holds no store`);
  const data = encodeAppSnapshot({ store: app.store, members: { ...peers }, dedupe: [] });
  await storage.createSnapshot(batch.entries.length, { voters, learners: [] }, data);
}
