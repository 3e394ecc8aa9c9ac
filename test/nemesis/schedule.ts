// The nemesis's seeded schedule: a sequence of steps, each a network fault, a process fault, or a
// process fault during a network fault, held for a while and then healed, with a quiet gap after.
// The schedule depends only on the seed and the slot count, so a seed replays the same faults in
// the same order (their timing against the workload is the machine's). Not a test file.

/** A directed link cut: `from` can no longer send to `to`. */
export type Link = readonly [from: number, to: number];

export type NetworkFault =
  | { readonly kind: 'partition-halves'; readonly sides: readonly [readonly number[], readonly number[]]; readonly links: readonly Link[] }
  | { readonly kind: 'partition-bridge'; readonly bridge: number; readonly sides: readonly [readonly number[], readonly number[]]; readonly links: readonly Link[] }
  | { readonly kind: 'partition-oneway'; readonly from: readonly number[]; readonly to: readonly number[]; readonly links: readonly Link[] };

export interface ProcessFault {
  /** kill -9 and restart with the data dir; kill -9 and replace with an empty one (new member id); SIGSTOP then SIGCONT. */
  readonly kind: 'kill' | 'replace' | 'pause';
  readonly slot: number;
}

export interface Step {
  readonly network?: NetworkFault;
  readonly process?: ProcessFault;
  /** How long the faults stay, in ms. */
  readonly holdMs: number;
  /** Healthy time after healing, in ms. */
  readonly quietMs: number;
}

function shuffled(random: () => number, n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i + 1);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Every link from each of `a` to each of `b` (and back, with `both`). */
function cuts(a: readonly number[], b: readonly number[], both: boolean): Link[] {
  const out: Link[] = [];
  for (const x of a) {
    for (const y of b) {
      out.push([x, y]);
      if (both) out.push([y, x]);
    }
  }
  return out;
}

function networkFault(random: () => number, slots: number): NetworkFault {
  const order = shuffled(random, slots);
  const r = random();
  if (r < 0.4 || slots < 3) {
    const k = 1 + Math.floor(random() * Math.floor(slots / 2));
    const sides = [order.slice(0, k), order.slice(k)] as const;
    return { kind: 'partition-halves', sides, links: cuts(sides[0], sides[1], true) };
  }
  if (r < 0.7) {
    // A bridge: one member sees both sides, which cannot see each other (Jepsen's "bridge").
    const bridge = order[0]!;
    const rest = order.slice(1);
    const half = Math.floor(rest.length / 2);
    const sides = [rest.slice(0, half), rest.slice(half)] as const;
    return { kind: 'partition-bridge', bridge, sides, links: cuts(sides[0], sides[1], true) };
  }
  const k = 1 + Math.floor(random() * 2);
  const from = order.slice(0, k);
  const to = order.slice(k);
  return { kind: 'partition-oneway', from, to, links: cuts(from, to, false) };
}

function processFault(random: () => number, slots: number): ProcessFault {
  const r = random();
  const slot = 1 + Math.floor(random() * slots);
  return { kind: r < 0.4 ? 'kill' : r < 0.7 ? 'pause' : 'replace', slot };
}

/** The next step of the schedule. */
export function nextStep(random: () => number, slots: number): Step {
  const r = random();
  const holdMs = 1_000 + Math.floor(random() * 3_000);
  const quietMs = 500 + Math.floor(random() * 1_000);
  if (r < 0.35) return { network: networkFault(random, slots), holdMs, quietMs };
  if (r < 0.65) return { process: processFault(random, slots), holdMs, quietMs };
  return { network: networkFault(random, slots), process: processFault(random, slots), holdMs, quietMs };
}

export function describeStep(step: Step): string {
  const parts: string[] = [];
  const n = step.network;
  if (n?.kind === 'partition-halves') parts.push(`partition ${n.sides[0].join(',')} | ${n.sides[1].join(',')}`);
  if (n?.kind === 'partition-bridge') parts.push(`bridge ${n.sides[0].join(',')} <${n.bridge}> ${n.sides[1].join(',')}`);
  if (n?.kind === 'partition-oneway') parts.push(`one-way ${n.from.join(',')} -/-> ${n.to.join(',')}`);
  if (step.process !== undefined) parts.push(`${step.process.kind} slot ${step.process.slot}`);
  return `${parts.join(' + ')} for ${step.holdMs} ms`;
}
