/**
 * `watch` and `exec-watch` over the streaming `/v3/watch` endpoint. Without `--forever`, `watch`
 * prints the first change and exits (etcdctl v2). `exec-watch` runs a command for every change,
 * one at a time, with the change in ETCD_WATCH_ACTION / ETCD_WATCH_KEY / ETCD_WATCH_VALUE /
 * ETCD_WATCH_MODIFIED_INDEX (and ETCD_WATCH_PREV_VALUE when known). Both stop cleanly on
 * SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { JsonObject } from '../client.ts';
import type { CommandContext } from '../api.ts';
import { CliError, EXIT_BAD_ARGS, EXIT_SERVER_ERROR } from '../errors.ts';
import { b64, childPrefix, kvOf, normalizeKey, prefixEnd, v2Node } from '../keys.ts';
import type { Kv } from '../keys.ts';

export interface WatchOptions {
  readonly forever?: boolean;
  readonly afterIndex?: number | undefined;
  readonly recursive?: boolean;
}

export interface Change {
  /** etcd v2's action name: `set` or `delete`. */
  readonly action: 'set' | 'delete';
  readonly kv: Kv;
  readonly prev: Kv | undefined;
}

function createRequest(key: string, o: WatchOptions): JsonObject {
  const create: JsonObject = o.recursive === true ? { key: b64(childPrefix(key)), range_end: b64(prefixEnd(childPrefix(key))) } : { key: b64(key) };
  create['prev_kv'] = true;
  if (o.afterIndex !== undefined && o.afterIndex > 0) create['start_revision'] = String(o.afterIndex + 1);
  return { create_request: create };
}

function changesOf(result: JsonObject): Change[] {
  if (result['canceled'] === true) {
    throw new CliError(`watch cancelled: ${String(result['cancel_reason'] ?? 'unknown reason')}`, EXIT_SERVER_ERROR);
  }
  const events = Array.isArray(result['events']) ? (result['events'] as JsonObject[]) : [];
  return events.map((ev) => ({
    action: ev['type'] === 'DELETE' ? 'delete' : 'set',
    kv: kvOf(ev['kv']),
    prev: ev['prev_kv'] === undefined ? undefined : kvOf(ev['prev_kv']),
  }));
}

/** Streams changes of `key` (or its subtree) to `onChange` until it returns false or a signal stops it. */
async function follow(ctx: CommandContext, key: string, o: WatchOptions, onChange: (c: Change) => Promise<boolean>): Promise<void> {
  const stopper = new AbortController();
  const stop = (): void => stopper.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await ctx.client.stream('/v3/watch', createRequest(key, o), async (result) => {
      for (const change of changesOf(result)) if (!(await onChange(change))) return false;
      return true;
    }, stopper.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function printChange(ctx: CommandContext, c: Change, recursive: boolean): void {
  if (ctx.format === 'json') {
    const json: Record<string, unknown> = { action: c.action, node: c.action === 'delete' ? { key: c.kv.key, modifiedIndex: c.kv.modRevision } : v2Node(c.kv) };
    if (c.prev !== undefined) json['prevNode'] = v2Node(c.prev);
    ctx.io.out(`${JSON.stringify(json)}\n`);
    return;
  }
  if (recursive) ctx.io.out(`[${c.action}] ${c.kv.key}\n`);
  if (c.action === 'delete') {
    if (c.prev !== undefined) ctx.io.out(`PrevNode.Value: ${c.prev.value}\n`);
  } else {
    ctx.io.out(`${c.kv.value}\n`);
  }
}

export async function watchCommand(ctx: CommandContext, rawKey: string, o: WatchOptions): Promise<void> {
  const key = normalizeKey(rawKey);
  await follow(ctx, key, o, async (c) => {
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
    ETCD_WATCH_KEY: c.kv.key,
    ETCD_WATCH_VALUE: c.action === 'delete' ? '' : c.kv.value,
    ETCD_WATCH_MODIFIED_INDEX: String(c.kv.modRevision),
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
  const key = normalizeKey(rawKey);
  await follow(ctx, key, o, async (c) => {
    await runOnce(command, c);
    return true;
  });
}
