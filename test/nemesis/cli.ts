// `npm run nemesis -- --seconds N --seed S [--members M]`: one fault-injection run (see
// docs/nemesis.md). Prints each fault, then the totals; exits 1 on any violation or undecided history.
import { parseArgs } from 'node:util';
import { runNemesis } from './runner.ts';
import { printSummary } from './summary.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string' }, members: { type: 'string', default: '5' }, 'unsafe-reads': { type: 'boolean', default: false } },
  strict: true,
});

function positiveInt(name: string, text: string | undefined, max: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new RangeError(`nemesis: --${name} must be an integer in 1…${max}, got ${String(text)}`);
  return n;
}

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInt('seed', values.seed, 2 ** 31);
console.log(`nemesis: seed ${seed} (replay: npm run nemesis -- --seconds ${values.seconds} --seed ${seed})`);
const summary = await runNemesis({ seconds: positiveInt('seconds', values.seconds, 86_400), seed, members: positiveInt('members', values.members, 9), unsafeReads: values['unsafe-reads'] });
printSummary(summary, (line) => console.log(line));
process.exit(summary.violations.length > 0 || summary.undecided.length > 0 ? 1 : 0);
