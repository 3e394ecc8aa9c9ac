/**
 * `watch` and `exec-watch` as etcdctl v2 runs them: a chain of v2 long polls (`GET
 * /v2/keys/<key>?wait=true&waitIndex=n`), each asking for the first change after the last one
 * seen, so no change is missed between polls (the member answers from its history). Without
 * `--forever`, `watch` prints the first change and exits. `exec-watch` runs a command for every
 * change, one at a time, with the change in ETCD_WATCH_ACTION / ETCD_WATCH_KEY /
 * ETCD_WATCH_VALUE / ETCD_WATCH_MODIFIED_INDEX (and ETCD_WATCH_PREV_VALUE when known). Both stop
 * cleanly on SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { CommandContext } from '../api.ts';
import { AbortedRequest } from '../client.ts';
import type { JsonObject } from '../client.ts';
import { CliError, EXIT_BAD_ARGS, EXIT_SERVER_ERROR } from '../errors.ts';
import { normalizeKey } from '../keys.ts';
import { actionOf, nodeOf, v2Request } from '../v2-keys.ts';
import type { V2Node } from '../v2-keys.ts';

export interface WatchOptions {
  readonly forever?: boolean;
  readonly afterIndex?: number | undefined;
  readonly recursive?: boolean;
}

/** One change as a v2 long poll reports it. */
export interface Change {
  /** etcd v2's action: `set`, `delete`, `expire`, … */
  readonly action: string;
  readonly node: V2Node;
  readonly prev: V2Node | undefined;
  /** The reply as the member sent it (`--json` prints it). */
  readonly reply: JsonObject;
}

function changeOf(reply: JsonObject): Change {
  const node = nodeOf(reply, 'node');
  if (node === undefined) throw new CliError('watch: the member answered a change without a node', EXIT_SERVER_ERROR);
  return { action: actionOf(reply), node, prev: nodeOf(reply, 'prevNode'), reply };
}

/**
 * Long-polls changes of `key` (or its subtree) into `onChange` until it returns false or a signal
 * stops it. The first poll starts after `afterIndex` (else at the next change); each next one
 * after the change just handled, as etcd's v2 client does.
 */
async function follow(ctx: CommandContext, key: string, o: WatchOptions, onChange: (c: Change) => Promise<boolean>): Promise<void> {
  const stopper = new AbortController();
  const stop = (): void => stopper.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let waitIndex = o.afterIndex !== undefined && o.afterIndex > 0 ? o.afterIndex + 1 : undefined;
  try {
    for (;;) {
      const fields: Record<string, string> = { wait: 'true' };
      if (o.recursive === true) fields['recursive'] = 'true';
      if (waitIndex !== undefined) fields['waitIndex'] = String(waitIndex);
      let reply: JsonObject;
      try {
        reply = await v2Request(ctx, 'GET', key, fields, { signal: stopper.signal });
      } catch (err) {
        if (err instanceof AbortedRequest || stopper.signal.aborted) return;
        throw err;
      }
      const change = changeOf(reply);
      waitIndex = change.node.modifiedIndex + 1;
      if (!(await onChange(change)) || stopper.signal.aborted) return;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** etcdctl v2's lines for a change: a delete shows the removed value, anything else the new one. */
function printChange(ctx: CommandContext, c: Change, recursive: boolean): void {
  if (ctx.format === 'json') {
    ctx.io.out(`${JSON.stringify(c.reply)}\n`);
    return;
  }
  if (recursive) ctx.io.out(`[${c.action}] ${c.node.key}\n`);
  if (c.action === 'delete') {
    if (c.prev !== undefined) ctx.io.out(`PrevNode.Value: ${c.prev.value}\n`);
  } else {
    ctx.io.out(`${c.node.value}\n`);
  }
}

export async function watchCommand(ctx: CommandContext, rawKey: string, o: WatchOptions): Promise<void> {
  await follow(ctx, normalizeKey(rawKey), o, async (c) => {
    printChange(ctx, c, o.recursive === true);
    return o.forever === true;
  });
}

function runOnce(command: readonly string[], c: Change): Promise<void> {
  const [file, ...args] = command;
  if (file === undefined) return Promise.resolve();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ETCD_WATCH_ACTION: c.action,
    ETCD_WATCH_KEY: c.node.key,
    ETCD_WATCH_VALUE: c.node.value,
    ETCD_WATCH_MODIFIED_INDEX: String(c.node.modifiedIndex),
  };
  if (c.prev !== undefined) env['ETCD_WATCH_PREV_VALUE'] = c.prev.value;
  return new Promise<void>((resolve) => {
    const child = spawn(file, args, { env, stdio: 'inherit' });
    child.on('error', (err) => {
      process.stderr.write(`exec-watch: cannot run ${file}: ${err.message}\n`);
      resolve();
    });
    child.on('close', () => resolve());
  });
}

export async function execWatchCommand(ctx: CommandContext, rawKey: string, command: readonly string[], o: WatchOptions): Promise<void> {
  if (command.length === 0) throw new CliError('exec-watch needs a command after --, e.g. exec-watch /key -- sh -c "env"', EXIT_BAD_ARGS);
  await follow(ctx, normalizeKey(rawKey), o, async (c) => {
    await runOnce(command, c);
    return true;
  });
}
