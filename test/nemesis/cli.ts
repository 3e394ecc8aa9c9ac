// `npm run nemesis -- --seconds N --seed S [--members M]`: one fault-injection run (see
// docs/nemesis.md). Prints each fault, then the totals; exits 1 on any violation or undecided history.
import { parseArgs } from 'node:util';
import { runNemesis } from './runner.ts';
import type { NemesisSummary } from './runner.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string' }, members: { type: 'string', default: '5' }, 'unsafe-reads': { type: 'boolean', default: false } },
  strict: true,
});

function positiveInt(name: string, text: string | undefined, max: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new RangeError(`nemesis: --${name} must be an integer in 1…${max}, got ${String(text)}`);
  return n;
}

export function printSummary(s: NemesisSummary, log: (line: string) => void): void {
  const faults = Object.entries(s.faults).map(([k, n]) => `${k} ${n}`).join(', ');
  log(`nemesis seed ${s.seed}, ${s.seconds} s of faults`);
  log(`  calls: ${s.calls.calls} (${s.calls.ok} ok, ${s.calls.unknown} unknown outcome, ${s.calls.dropped} failed reads dropped)`);
  log(`  faults: ${Object.values(s.faults).reduce((a, b) => a + b, 0)} (${faults})`);
  log(`  histories checked: ${s.partitions.length} (${s.partitions.map((p) => `${p.name}: ${p.result.kind}, ${p.result.ops} ops`).join('; ')})`);
  log(`  watch streams: ${s.watchStreams} with ${s.watchEvents} events, against a final history of ${s.historyEvents} events`);
  for (const v of s.violations) log(`  VIOLATION ${v}`);
  for (const u of s.undecided) log(`  UNDECIDED ${u}`);
  if (s.violations.length > 0 || s.undecided.length > 0) log(`  replay: npm run nemesis -- --seconds ${s.seconds} --seed ${s.seed}`);
}

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInt('seed', values.seed, 2 ** 31);
console.log(`nemesis: seed ${seed} (replay: npm run nemesis -- --seconds ${values.seconds} --seed ${seed})`);
const summary = await runNemesis({ seconds: positiveInt('seconds', values.seconds, 86_400), seed, members: positiveInt('members', values.members, 9), unsafeReads: values['unsafe-reads'] });
printSummary(summary, (line) => console.log(line));
process.exit(summary.violations.length > 0 || summary.undecided.length > 0 ? 1 : 0);
