/** The real core behind the simulator's {@link CoreFactory}. */
import { RawNode } from '../../src/raft/raw-node.ts';
import type { CoreFactory } from './core.ts';

export const createRawNode: CoreFactory = (config) => new RawNode(config);
