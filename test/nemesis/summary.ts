// The closing note of a nemesis run: calls, faults by kind, histories checked, watch streams,
// violations and the replay command. Not a test file.
import type { NemesisSummary } from './runner.ts';

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
