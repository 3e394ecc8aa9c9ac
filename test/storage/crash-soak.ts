// Long kill -9 soak for fileStorage (not part of the test suite): the same loop as
// crash.test.ts with more cycles. Usage:
//   npm run crash -- [--cycles N] [--seed S] [--lanes L] [--max-run-ms MS] [--dir PATH] [--verbose]
// Defaults: 500 cycles, a random seed, 2 lanes, children killed within 150 ms. Exits non-zero
// on the first lost or wrong acknowledged entry and prints the seed to replay it.
import { Command } from 'commander';
import { join } from 'node:path';
import { childScript } from './child-process.ts';
import { runCrashLoop } from './crash-harness.ts';
import { removeDir, tempDir } from './helpers.ts';

const program = new Command()
  .name('crash-soak')
  .option('--cycles <n>', 'kill -9 cycles in total', '500')
  .option('--seed <n>', 'seed (random when omitted)')
  .option('--lanes <n>', 'data dirs crashed in parallel', '2')
  .option('--max-run-ms <n>', 'longest run of a child before the kill', '150')
  .option('--dir <path>', 'parent directory for the data dirs (default: os.tmpdir())')
  .option('--verbose', 'print every cycle')
  .parse(process.argv);

const o = program.opts<{ cycles: string; seed?: string; lanes: string; maxRunMs: string; dir?: string; verbose?: boolean }>();
const seed = o.seed !== undefined ? Number(o.seed) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const cycles = Number(o.cycles);
const root = o.dir !== undefined ? tempDir('crash-soak', o.dir) : tempDir('crash-soak');
const started = Date.now();
console.log(`crash soak: ${cycles} cycles, seed ${seed}, dir ${root}`);
try {
  childScript();
  const r = await runCrashLoop({
    dir: join(root, 'data'),
    cycles,
    seed,
    lanes: Number(o.lanes),
    maxRunMs: Number(o.maxRunMs),
    ...(o.verbose === true ? { log: (line: string) => console.log(line) } : {}),
  });
  console.log(`ok: ${r.cycles} cycles in ${((Date.now() - started) / 1000).toFixed(1)} s, ${r.acked} entries acknowledged and verified, ${r.tornTails} torn tails cut`);
} catch (err) {
  console.error(`FAILED (seed ${seed}): ${err instanceof Error ? err.message : String(err)}`);
  console.error(`replay: npm run crash -- --cycles ${cycles} --seed ${seed} --lanes ${o.lanes} --max-run-ms ${o.maxRunMs}`);
  process.exitCode = 1;
} finally {
  removeDir(root);
  removeDir(childScript().dir);
}
