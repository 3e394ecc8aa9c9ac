// The nemesis's network: one Linux network namespace per member slot, a veth pair per pair of
// slots, and a /32 address per slot on its namespace's loopback with a route to every other slot
// through that pair's veth. A partition replaces a route with a blackhole in the sender's namespace,
// so it cuts one direction (from → to); a symmetric cut is both directions. Nothing here needs
// iptables or a Linux bridge, only `ip` (iproute2) and root. Not a test file.
import { execFile } from 'node:child_process';

/** Bound on one `ip` invocation, in ms. */
const ipTimeoutMs = 10_000;
/** Network of the slots' addresses (private to the namespaces: it never reaches the host). */
const subnet = '10.77.0';

export class NetnsError extends Error {
  readonly code = 'NEMESIS_NETNS';
}

function ip(args: readonly string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { timeout: ipTimeoutMs }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new NetnsError(`nemesis: ip ${args.join(' ')} failed: ${stderr.trim() || err.message}`, { cause: err }));
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** A run's namespaces carry its runner's pid (base 36), so a crashed run's leftovers can be found. */
function namespaceName(runId: string, slot: number): string {
  return `qkvn-${runId}-${slot}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Deletes the namespaces of runs whose runner process is gone (a runner killed with -9 cannot
 * clean up), killing any process still inside them. Returns the names deleted.
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  const list = await ip(['netns', 'list']).catch(() => '');
  for (const line of list.split('\n')) {
    const name = /^(qkvn-([a-z0-9]+)-\d+)/.exec(line);
    if (name === null || alive(Number.parseInt(name[2]!, 36))) continue;
    const pids = await ip(['netns', 'pids', name[1]!]).catch(() => '');
    for (const pid of pids.split('\n').filter((p) => p !== '')) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await ip(['netns', 'delete', name[1]!]).catch(() => {});
    removed.push(name[1]!);
  }
  return removed;
}

/** Directed link between two slots: `from` may send to `to`. */
function linkKey(from: number, to: number): string {
  return `${from}>${to}`;
}

export class NetLab {
  readonly slots: number;
  readonly #runId: string;
  /** Directed links currently cut (`from>to`). */
  #cut = new Set<string>();
  #created = 0;

  private constructor(runId: string, slots: number) {
    this.#runId = runId;
    this.slots = slots;
  }

  /**
   * Creates `slots` namespaces (slots are numbered 1…slots) fully connected; throws NetnsError
   * naming the failing command and its reason when namespaces cannot be made (no root, no iproute2).
   */
  static async create(runId: string, slots: number): Promise<NetLab> {
    if (!/^[a-z0-9]{1,8}$/.test(runId)) throw new RangeError('nemesis: runId must be 1–8 lowercase letters or digits');
    if (!Number.isInteger(slots) || slots < 1 || slots > 9) throw new RangeError('nemesis: slots must be 1–9');
    const lab = new NetLab(runId, slots);
    try {
      for (let i = 1; i <= slots; i++) {
        await ip(['netns', 'add', lab.namespace(i)]);
        lab.#created = i;
        await ip(['-n', lab.namespace(i), '-batch', '-'], `link set lo up\naddr add ${lab.address(i)}/32 dev lo\n`);
      }
      for (let i = 1; i <= slots; i++) {
        for (let j = i + 1; j <= slots; j++) {
          await ip(['link', 'add', `p${j}`, 'netns', lab.namespace(i), 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', lab.namespace(j)]);
        }
      }
      for (let i = 1; i <= slots; i++) {
        const lines: string[] = [];
        for (let j = 1; j <= slots; j++) {
          if (j === i) continue;
          lines.push(`link set p${j} up`, `route add ${lab.address(j)}/32 dev p${j} src ${lab.address(i)}`);
        }
        if (lines.length > 0) await ip(['-n', lab.namespace(i), '-batch', '-'], `${lines.join('\n')}\n`);
      }
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  namespace(slot: number): string {
    return namespaceName(this.#runId, slot);
  }

  address(slot: number): string {
    return `${subnet}.${slot}`;
  }

  /** The directed links cut now, as `from>to`. */
  get cut(): ReadonlySet<string> {
    return this.#cut;
  }

  /** Makes exactly `links` (pairs [from, to]) cut and every other link whole. */
  async setCut(links: readonly (readonly [number, number])[]): Promise<void> {
    const next = new Set(links.map(([from, to]) => linkKey(from, to)));
    for (let i = 1; i <= this.slots; i++) {
      const lines: string[] = [];
      for (let j = 1; j <= this.slots; j++) {
        if (j === i) continue;
        const key = linkKey(i, j);
        if (next.has(key) === this.#cut.has(key)) continue;
        lines.push(next.has(key) ? `route replace blackhole ${this.address(j)}/32` : `route replace ${this.address(j)}/32 dev p${j} src ${this.address(i)}`);
      }
      if (lines.length > 0) await ip(['-n', this.namespace(i), '-batch', '-'], `${lines.join('\n')}\n`);
    }
    this.#cut = next;
  }

  async heal(): Promise<void> {
    await this.setCut([]);
  }

  /** Deletes every namespace this lab made (their veths go with them); never throws. */
  async destroy(): Promise<void> {
    for (let i = 1; i <= this.#created; i++) await ip(['netns', 'delete', this.namespace(i)]).catch(() => {});
    this.#created = 0;
  }
}
