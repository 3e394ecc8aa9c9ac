/**
 * Normalizes a {@link RaftConfig} into a frozen object with every default filled in, and
 * rejects nonsense eagerly with a RangeError that names the field.
 */
import { DEFAULT_MAX_MESSAGE_BYTES } from '../limits.ts';
import type { LogStorage, RaftConfig, RaftLogger } from './types.ts';
import type { LogIndex, NodeId } from '../protocol/types.ts';

export interface NormalizedConfig {
  readonly id: NodeId;
  readonly storage: LogStorage;
  readonly random: () => number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly leaseReads: boolean;
  readonly applied: LogIndex;
  readonly maxMessageBytes: number;
  readonly maxInflightMessages: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
  readonly maxCommittedBytesPerReady: number;
  readonly disableProposalForwarding: boolean;
  readonly logger: RaftLogger;
}

const MIB = 1024 * 1024;

/** Reads nothing and costs nothing: the default logger. */
export const QUIET_LOGGER: RaftLogger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
});

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`raft: ${name} must be a positive integer (got ${value})`);
  }
  return value;
}

export function normalizeConfig(config: RaftConfig): NormalizedConfig {
  if (typeof config.id !== 'string' || config.id === '') throw new RangeError('raft: id must be a non-empty string');
  const electionTicks = positiveInteger('electionTicks', config.electionTicks ?? 10);
  const heartbeatTicks = positiveInteger('heartbeatTicks', config.heartbeatTicks ?? 1);
  if (heartbeatTicks >= electionTicks) {
    throw new RangeError('raft: electionTicks must be greater than heartbeatTicks');
  }
  const checkQuorum = config.checkQuorum ?? true;
  const leaseReads = config.leaseReads ?? false;
  if (leaseReads && !checkQuorum) throw new RangeError('raft: leaseReads requires checkQuorum');
  const applied = config.applied ?? 0;
  if (!Number.isSafeInteger(applied) || applied < 0) throw new RangeError('raft: applied must be a non-negative integer');
  return Object.freeze({
    id: config.id,
    storage: config.storage,
    random: config.random,
    electionTicks,
    heartbeatTicks,
    preVote: config.preVote ?? true,
    checkQuorum,
    leaseReads,
    applied,
    maxMessageBytes: positiveInteger('maxMessageBytes', config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES),
    maxInflightMessages: positiveInteger('maxInflightMessages', config.maxInflightMessages ?? 256),
    maxInflightBytes: positiveInteger('maxInflightBytes', config.maxInflightBytes ?? 32 * MIB),
    maxUncommittedBytes: positiveInteger('maxUncommittedBytes', config.maxUncommittedBytes ?? 64 * MIB),
    maxCommittedBytesPerReady: positiveInteger('maxCommittedBytesPerReady', config.maxCommittedBytesPerReady ?? 16 * MIB),
    disableProposalForwarding: config.disableProposalForwarding ?? false,
    logger: config.logger ?? QUIET_LOGGER,
  });
}
