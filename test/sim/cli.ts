/**
 * `npm run sim -- --seeds N --first-seed S [--members 3|5] [--steps K] [--rejoin-wiped] [--reorder] [--verbose]`
 *
 * Runs N seeds of the deterministic Raft simulation against the real core. On a violation it
 * prints the seed, the invariant, a trace tail and the command that replays it, and exits 1.
 * The last line is always `N seeds, V violations`.
 */
import { createRawNode } from './raw-node-factory.ts';
import { runSeeds } from './run.ts';

/** Seeds run by default: about a minute on a 2-core machine. */
const DEFAULT_SEEDS = 300;

function usage(message: string): never {
  console.error(`sim: ${message}`);
  console.error('usage: npm run sim -- --seeds N --first-seed S [--members 3|5] [--steps K] [--rejoin-wiped] [--reorder] [--verbose]');
  process.exit(2);
}

function parseArgs(argv: readonly string[]): { seeds: number; firstSeed: number; members?: number; steps?: number; verbose: boolean; rejoinWiped: boolean; reorder?: boolean } {
  let seeds = DEFAULT_SEEDS;
  let firstSeed = 1;
  let members: number | undefined;
  let steps: number | undefined;
  let verbose = false;
  let rejoinWiped = false;
  let reorder: boolean | undefined;
  const int = (name: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isSafeInteger(n) || n < min) usage(`${name} needs an integer >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--seeds') seeds = int('--seeds', argv[++i], 1);
    else if (arg === '--first-seed') firstSeed = int('--first-seed', argv[++i], 0);
    else if (arg === '--members') {
      members = int('--members', argv[++i], 1);
      if (members !== 3 && members !== 5) usage('--members must be 3 or 5');
    } else if (arg === '--steps') steps = int('--steps', argv[++i], 1);
    else if (arg === '--verbose') verbose = true;
    else if (arg === '--rejoin-wiped') rejoinWiped = true;
    else if (arg === '--reorder') reorder = true;
    else usage(`unknown argument ${arg ?? ''}`);
  }
  return { seeds, firstSeed, ...(members !== undefined ? { members } : {}), ...(steps !== undefined ? { steps } : {}), verbose, rejoinWiped, ...(reorder !== undefined ? { reorder } : {}) };
}

const args = parseArgs(process.argv.slice(2));
const started = Date.now();
const summary = runSeeds({ ...args, createCore: createRawNode });
const ms = Date.now() - started;
const ok = summary.results.filter((r) => r.violation === undefined);
const leaders = ok.reduce((s, r) => s + r.stats.leaders, 0);
const applied = ok.reduce((s, r) => s + r.stats.maxApplied, 0);
const snaps = ok.reduce((s, r) => s + r.stats.snapshotsInstalled, 0);
const reads = ok.reduce((s, r) => s + r.stats.readsReleased, 0);
const confs = ok.reduce((s, r) => s + r.stats.confChanges, 0);
const crashes = ok.reduce((s, r) => s + r.stats.crashes, 0);
const settle = ok.map((r) => r.stats.convergedAfterTicks).sort((a, b) => a - b);
const settleMax = settle.length > 0 ? (settle[settle.length - 1] as number) : 0;
const slowest = ok.find((r) => r.stats.convergedAfterTicks === settleMax);
const settleMedian = settle.length > 0 ? (settle[Math.floor(settle.length / 2)] as number) : 0;
console.log(
  `seeds ${args.firstSeed}..${args.firstSeed + args.seeds - 1} in ${(ms / 1000).toFixed(1)}s: ` +
    `${leaders} leaders, ${applied} entries applied (max index per seed, summed), ${snaps} snapshots installed, ` +
    `${reads} reads checked, ${confs} conf changes proposed, ${crashes} crashes; ` +
    `converged after healing within ${settleMedian} ticks (median), ${settleMax} (max${slowest !== undefined && ok.length > 1 ? `, seed ${slowest.seed}` : ''})`,
);
console.log(`${summary.seeds} seeds, ${summary.violations.length} violations`);
process.exit(summary.violations.length === 0 ? 0 : 1);
