/**
 * `startNode()`: validate options, open storage, bootstrap a brand-new member (or restore one
 * from a backup), build the transport and start the driver. The client endpoint is not started
 * here: it lives in src/gateway, which sits above this layer, so src/create-node.ts starts it.
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
import { NodeMetrics } from './metrics.ts';
import { QuorumNode } from './node.ts';
import { normalizeOptions } from './options.ts';
import { registerPromMetrics } from './prom-registry.ts';
import type { NodeConfig, NodeOptions } from './options.ts';

/**
 * Creates and starts a cluster member. Resolves once storage is recovered and the transport
 * listens; call `node.ready()` to wait for a leader. The `client` option is not read here (see
 * the package's `createNode`, which starts the client endpoint on top of this).
 */
export async function startNode(options: NodeOptions): Promise<QuorumNode> {
  const config = normalizeOptions(options);
  const metrics = new NodeMetrics();
  const storage =
    config.storage ?? (await import('../storage/file-storage.ts')).fileStorage(config.dataDir as string, { logger: config.logger, onWalSync: metrics.onWalSync });
  await storage.open();
  let transport: Transport | undefined;
  let driver: Driver | undefined;
  try {
    await maybeBootstrap(config, storage);
    transport = config.transport ?? (await defaultTransport(config, metrics));
    const limits: StoreLimits = { maxRequestBytes: config.maxRequestBytes, maxTxnOps: config.maxTxnOps, maxKeyBytes: config.maxKeyBytes };
    const state = await AppliedState.open(limits, config.dedupeEntries, (await storage.loadSnapshot?.()) ?? storage.snapshot());
    driver = new Driver({ config, storage, transport, limits, state, metrics });
    const node = new QuorumNode(driver, config, config.codec ?? msgpackCodec);
    if (config.metrics !== undefined) registerPromMetrics(config.metrics.registry, node, driver);
    await driver.start();
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

/** The default transport; loaded lazily so a single-member or in-memory node never loads ws. */
async function defaultTransport(config: NodeConfig, metrics: NodeMetrics): Promise<Transport | undefined> {
  const ids = Object.keys(config.peers);
  if (ids.length === 0) return undefined;
  const own = new URL(config.peers[config.id] as string);
  const peers: Record<NodeId, string> = {};
  for (const id of ids) if (id !== config.id) peers[id] = config.peers[id] as string;
  const host = own.hostname.startsWith('[') ? own.hostname.slice(1, -1) : own.hostname;
  const port = Number(own.port || (own.protocol === 'wss:' ? 443 : 80));
  const { wsTransport } = await import('../transport/ws-transport.ts');
  return wsTransport({
    listen: { host, port },
    peers,
    logger: config.logger,
    observer: metrics.peerTraffic,
    ...(config.token === undefined ? {} : { token: config.token }),
  });
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
  // Users and roles come back with the keys (as etcd's snapshot restore keeps them).
  const data = encodeAppSnapshot({ store: app.store, members: { ...peers }, dedupe: [], ...(app.auth === undefined ? {} : { auth: app.auth }) });
  await storage.createSnapshot(batch.entries.length, { voters, learners: [] }, data);
  // The bootstrap entries do not rebuild the backup's store: a member behind must get the
  // snapshot, never those entries, so none stays behind it.
  await storage.compact(batch.entries.length + 1);
}
