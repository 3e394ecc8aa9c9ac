/**
 * Runs a range of seeds and formats what went wrong, shared by the CLI and the uvu test.
 */
import type { CoreFactory } from './core.ts';
import { runSeed } from './cluster.ts';
import type { SimResult } from './cluster.ts';

export interface RunOptions {
  readonly seeds: number;
  readonly firstSeed: number;
  /** Fixed member count; when absent, even seeds run 3 members and odd seeds 5. */
  readonly members?: number;
  readonly steps?: number;
  readonly livenessTicks?: number;
  readonly verbose?: boolean;
  readonly rejoinWiped?: boolean;
  readonly reorder?: boolean;
  readonly createCore: CoreFactory;
  readonly log?: (line: string) => void;
}

export function membersFor(seed: number, fixed: number | undefined): number {
  return fixed ?? (seed % 2 === 0 ? 3 : 5);
}

export function replayCommand(seed: number, options: Pick<RunOptions, 'members' | 'steps' | 'rejoinWiped' | 'reorder'>): string {
  let cmd = `npm run sim -- --seeds 1 --first-seed ${seed}`;
  if (options.members !== undefined) cmd += ` --members ${options.members}`;
  if (options.steps !== undefined) cmd += ` --steps ${options.steps}`;
  if (options.rejoinWiped === true) cmd += ' --rejoin-wiped';
  if (options.reorder === true) cmd += ' --reorder';
  return `${cmd} --verbose`;
}

export function formatViolation(result: SimResult, options: Pick<RunOptions, 'members' | 'steps' | 'rejoinWiped' | 'reorder'>): string {
  const v = result.violation;
  if (v === undefined) return '';
  const lines = [
    `VIOLATION seed=${result.seed} members=${result.members} invariant=${v.invariant}`,
    `  ${v.message.split('\n').join('\n  ')}`,
    `  settings: ${result.settings}`,
    '  trace tail:',
    ...result.trace.map((l) => `    ${l}`),
    `  replay: ${replayCommand(result.seed, options)}`,
  ];
  return lines.join('\n');
}

export interface RunSummary {
  readonly seeds: number;
  readonly violations: SimResult[];
  readonly results: SimResult[];
}

export function runSeeds(options: RunOptions): RunSummary {
  const results: SimResult[] = [];
  const violations: SimResult[] = [];
  for (let k = 0; k < options.seeds; k++) {
    const seed = options.firstSeed + k;
    const result = runSeed({
      seed,
      members: membersFor(seed, options.members),
      createCore: options.createCore,
      ...(options.steps !== undefined ? { steps: options.steps } : {}),
      ...(options.livenessTicks !== undefined ? { livenessTicks: options.livenessTicks } : {}),
      ...(options.verbose === true ? { verbose: true } : {}),
      ...(options.rejoinWiped === true ? { rejoinWiped: true } : {}),
      ...(options.reorder === true ? { reorder: true } : {}),
      ...(options.log !== undefined ? { log: options.log } : {}),
    });
    results.push(result);
    if (result.violation !== undefined) {
      violations.push(result);
      (options.log ?? console.log)(formatViolation(result, options));
    }
  }
  return { seeds: options.seeds, violations, results };
}
