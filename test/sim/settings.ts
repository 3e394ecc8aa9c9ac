/** The knobs each seed draws for itself, so every seed explores a different corner of the space. */
import { Prng } from './prng.ts';

/** Per-seed knobs, drawn once from the seed so each seed explores a different corner. */
export interface Settings {
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly leaseReads: boolean;
  readonly maxMessageBytes: number;
  readonly maxInflightMessages: number;
  readonly disableProposalForwarding: boolean;
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly maxDelayTicks: number;
  readonly deferPersistRate: number;
  readonly faultRate: number;
  /**
   * Messages on one link may overtake each other. Real transports (TCP, WebSocket) keep order per
   * link, so most seeds do too; drawn from its own stream so it does not shift the other knobs.
   */
  readonly reorderWithinLink: boolean;
}

export function drawSettings(rng: Prng, seed: number, reorder: boolean | undefined): Settings {
  const checkQuorum = rng.chance(0.8);
  return {
    preVote: rng.chance(0.8),
    checkQuorum,
    leaseReads: checkQuorum && rng.chance(0.25),
    maxMessageBytes: rng.pick([40, 200, 1 << 20]),
    maxInflightMessages: rng.pick([1, 4, 256]),
    disableProposalForwarding: rng.chance(0.1),
    dropRate: rng.pick([0, 0.02, 0.08, 0.2]),
    duplicateRate: rng.pick([0, 0.02, 0.1]),
    maxDelayTicks: rng.pick([0, 1, 3, 6]),
    deferPersistRate: rng.pick([0, 0.2, 0.5]),
    faultRate: rng.pick([0.3, 1, 2]),
    reorderWithinLink: reorder ?? new Prng(seed ^ 0x2545f491).chance(0.3),
  };
}

