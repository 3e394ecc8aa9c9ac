/**
 * The `quorumkv` command line (commander v14): etcdctl v2's commands against `--endpoints`, plus
 * `quorumkv member …` which runs a standalone member. Every failure prints one line on stderr and
 * sets an etcdctl-style exit code (errors.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import type { CommandContext } from './api.ts';
import { parseIndex, parseTtl } from './api.ts';
import { ApiClient } from './client.ts';
import { getCommand, mkCommand, rmCommand, setCommand, updateCommand } from './commands/kv.ts';
import { lsCommand, mkdirCommand, rmdirCommand, setdirCommand, updatedirCommand } from './commands/dir.ts';
import { backupCommand, endpointHealthCommand, endpointStatusCommand, snapshotRestoreCommand, snapshotSaveCommand } from './commands/maintenance.ts';
import { AUTH_COMMANDS } from './commands/auth.ts';
import { memberAddCommand, memberListCommand, memberPromoteCommand, memberRemoveCommand, memberUpdateCommand } from './commands/member.ts';
import { execWatchCommand, watchCommand } from './commands/watch.ts';
import { CliError, EXIT_BAD_ARGS, EXIT_SERVER_ERROR } from './errors.ts';
import { CONFIG_FILE_ENV, MEMBER_SETTINGS, readTokenFile } from './member-settings.ts';
import type { Format, Io, Output } from './output.ts';
import { print, printError, stdio } from './output.ts';
import { userOf } from './password-prompt.ts';

export interface GlobalFlags {
  readonly endpoints: string;
  readonly json?: boolean;
  readonly table?: boolean;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly user?: string;
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecureSkipTlsVerify?: boolean;
  readonly dialTimeout: string;
  readonly commandTimeout: string;
}

type Opts = Record<string, string | boolean | undefined>;

function readPem(path: string | undefined, flag: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read ${flag} ${path}: ${(err as Error).message}`, EXIT_BAD_ARGS);
  }
}

function positive(raw: string, flag: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${flag} must be a positive integer (ms), got ${raw}`, EXIT_BAD_ARGS);
  return n;
}

function formatOf(g: GlobalFlags): Format {
  return g.json === true ? 'json' : g.table === true ? 'table' : 'simple';
}

/** The bearer token: --token, else --token-file, else QUORUMKV_TOKEN, else QUORUMKV_TOKEN_FILE. */
function tokenOf(g: GlobalFlags): string | undefined {
  const fromEnv = process.env['QUORUMKV_TOKEN'];
  return g.token ?? readTokenFile(g.tokenFile, '--token-file') ?? (fromEnv === '' ? undefined : fromEnv) ?? readTokenFile(process.env['QUORUMKV_TOKEN_FILE'], 'QUORUMKV_TOKEN_FILE');
}

export function contextOf(g: GlobalFlags, io: Io): CommandContext {
  const token = tokenOf(g);
  if (g.token !== undefined) io.err('Warning: --token on the command line is visible to every user in ps; use QUORUMKV_TOKEN or --token-file\n');
  const endpoints = g.endpoints.split(',').map((e) => e.trim()).filter((e) => e !== '');
  const ca = readPem(g.cacert, '--cacert');
  const cert = readPem(g.cert, '--cert');
  const key = readPem(g.key, '--key');
  const client = new ApiClient({
    endpoints,
    ...(token === undefined ? {} : { token }),
    ...(g.user === undefined ? {} : { user: userOf(g.user) }),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    insecureSkipVerify: g.insecureSkipTlsVerify === true,
    dialTimeoutMs: positive(g.dialTimeout, '--dial-timeout'),
    commandTimeoutMs: positive(g.commandTimeout, '--command-timeout'),
  });
  return { client, format: formatOf(g), io };
}

function str(o: Opts, name: string): string | undefined {
  const v = o[name];
  return typeof v === 'string' ? v : undefined;
}

/** State shared by the action wrapper: the exit code of the last command. */
interface RunState {
  exitCode: number;
}

function addKeyCommands(program: Command, act: Act): void {
  program.command('set <key> <value>').description('set the value of a key')
    .option('--ttl <seconds>', 'key time-to-live in seconds')
    .option('--swap-with-value <value>', 'set only if the current value is this')
    .option('--swap-with-index <index>', 'set only if the current modified index is this')
    .action(act((ctx, [key, value], o) => setCommand(ctx, key ?? '', value ?? '', { ttl: parseTtl(str(o, 'ttl')), swapWithValue: str(o, 'swapWithValue'), swapWithIndex: parseIndex(str(o, 'swapWithIndex'), '--swap-with-index') })));
  program.command('get <key>').description('get the value of a key')
    .option('--sort', 'sort the result (directories)')
    .option('--consistent', 'linearizable read through the leader (default: local member)')
    .action(act((ctx, [key], o) => getCommand(ctx, key ?? '', { consistent: o['consistent'] === true })));
  program.command('update <key> <value>').description('update an existing key')
    .option('--ttl <seconds>', 'key time-to-live in seconds (0 or absent: none)')
    .action(act((ctx, [key, value], o) => updateCommand(ctx, key ?? '', value ?? '', parseTtl(str(o, 'ttl')))));
  program.command('mk <key> <value>').description('make a new key (fails if it exists)')
    .option('--ttl <seconds>', 'key time-to-live in seconds')
    .option('--in-order', 'create an in-order key under the given directory (queues)')
    .action(act((ctx, [key, value], o) => mkCommand(ctx, key ?? '', value ?? '', { ttl: parseTtl(str(o, 'ttl')), inOrder: o['inOrder'] === true })));
  program.command('rm <key>').description('remove a key or a directory')
    .option('--dir', 'remove the key if it is an empty directory or a key')
    .option('--recursive', 'remove the key and all child keys')
    .option('--with-value <value>', 'remove only if the current value is this')
    .option('--with-index <index>', 'remove only if the current modified index is this')
    .action(act((ctx, [key], o) => rmCommand(ctx, key ?? '', { dir: o['dir'] === true, recursive: o['recursive'] === true, withValue: str(o, 'withValue'), withIndex: parseIndex(str(o, 'withIndex'), '--with-index') })));
}

function addDirCommands(program: Command, act: Act): void {
  program.command('mkdir <key>').description('make a new directory (fails if it exists)')
    .option('--ttl <seconds>', 'directory time-to-live in seconds')
    .action(act((ctx, [key], o) => mkdirCommand(ctx, key ?? '', parseTtl(str(o, 'ttl')))));
  program.command('setdir <key>').description('create a directory or update its TTL')
    .option('--ttl <seconds>', 'directory time-to-live in seconds (the whole subtree expires with it)')
    .action(act((ctx, [key], o) => setdirCommand(ctx, key ?? '', parseTtl(str(o, 'ttl')))));
  program.command('updatedir <key>').description('update an existing directory\'s TTL')
    .option('--ttl <seconds>', 'directory time-to-live in seconds (0 or absent: none)')
    .action(act((ctx, [key], o) => updatedirCommand(ctx, key ?? '', parseTtl(str(o, 'ttl')))));
  program.command('rmdir <key>').description('remove an empty directory or a key')
    .action(act((ctx, [key]) => rmdirCommand(ctx, key ?? '')));
  program.command('ls [key]').description('list a directory (default: the root)')
    .option('--sort', 'sort the output')
    .option('--recursive', 'list the whole subtree')
    .option('-p', 'append / to directories')
    .action(act((ctx, [key], o) => lsCommand(ctx, key, { sort: o['sort'] === true, recursive: o['recursive'] === true, p: o['p'] === true })));
}

function addWatchCommands(program: Command, act: Act): void {
  program.command('watch <key>').description('watch a key for a change (and print it)')
    .option('--forever', 'keep watching until interrupted')
    .option('--after-index <index>', 'watch from just after this index')
    .option('--recursive', 'watch the whole subtree')
    .action(act(async (ctx, [key], o) => {
      await watchCommand(ctx, key ?? '', { forever: o['forever'] === true, afterIndex: parseIndex(str(o, 'afterIndex'), '--after-index'), recursive: o['recursive'] === true });
    }));
  program.command('exec-watch <key> [command...]').description('run a command on every change of a key: exec-watch <key> -- <command> [args...]')
    .option('--after-index <index>', 'watch from just after this index')
    .option('--recursive', 'watch the whole subtree')
    .action(act(async (ctx, [key, ...command], o) => {
      await execWatchCommand(ctx, key ?? '', command, { afterIndex: parseIndex(str(o, 'afterIndex'), '--after-index'), recursive: o['recursive'] === true });
    }));
}

function addMaintenanceCommands(program: Command, act: Act): void {
  program.command('backup').description('save a consistent snapshot of the cluster into a directory')
    .requiredOption('--backup-dir <dir>', 'directory to write the backup into')
    .option('--backup-file <name>', 'file name inside the backup dir', 'backup.snap')
    .action(act((ctx, _args, o) => backupCommand(ctx, { backupDir: str(o, 'backupDir') ?? '', backupFile: str(o, 'backupFile') ?? 'backup.snap' })));
  const snapshot = program.command('snapshot').description('save or restore snapshots');
  snapshot.command('save <file>').description('stream a snapshot from an endpoint into a file')
    .action(act((ctx, [file]) => snapshotSaveCommand(ctx, file ?? '')));
  snapshot.command('restore <file>').description('create a new member data dir from a snapshot file (offline)')
    .requiredOption('--data-dir <dir>', 'new data dir to create')
    .requiredOption('--name <name>', 'member name of the restored member')
    .option('--initial-cluster <list>', 'name=ws://host:port,… of the new cluster (default: just this member)')
    .action(act((ctx, [file], o) => snapshotRestoreCommand(file ?? '', { dataDir: str(o, 'dataDir') ?? '', name: str(o, 'name') ?? '', initialCluster: str(o, 'initialCluster') }, ctx.io)));
  const endpoint = program.command('endpoint').description('check endpoints');
  endpoint.command('status').description('status of every --endpoints member').action(act((ctx) => endpointStatusCommand(ctx)));
  endpoint.command('health').description('health of every --endpoints member').action(act(async (ctx) => {
    await endpointHealthCommand(ctx);
  }));
}

function addMemberCommands(program: Command, act: Act, state: RunState): void {
  const member = program.command('member').description('run a standalone member (with --name …), or list/add/remove/promote members');
  member.option('--config-file <file>', `etcd-style YAML config file (or ${CONFIG_FILE_ENV.join(' / ')})`);
  for (const setting of MEMBER_SETTINGS) {
    // No commander default: an absent flag must fall through to the environment and the config
    // file, and --help must show nothing read from the environment (a token).
    const fallback = setting.default === undefined ? '' : ` (default: ${setting.default})`;
    member.option(setting.flag, `${setting.description}${fallback}; env ${setting.env.join(' / ')}`);
    const own = setting.flag.split(' ')[0] ?? setting.flag;
    for (const alias of setting.aliases ?? []) member.option(alias, `etcd's spelling of ${own}${setting.oneUrl === true ? ' (exactly one URL)' : ''}`);
  }
  member.action(async (o: Record<string, unknown>) => {
    // Loaded on demand: the node (Raft, storage, transport) is only needed to run a member.
    const { runMember } = await import('./member.ts');
    state.exitCode = await runMember(o, stdio, process.env);
  });
  member.command('list').description('list the members').action(act((ctx) => memberListCommand(ctx)));
  member.command('add <name> <peerURL>').description('add a member (start it with --initial-cluster-state existing)')
    .option('--learner', 'add as a non-voting learner')
    .action(act((ctx, [name, url], o) => memberAddCommand(ctx, name ?? '', url ?? '', { learner: o['learner'] === true })));
  member.command('update <memberID> <peerURLs>').description('replace a member\'s peer URLs (comma-separated; restart it on the new one)')
    .action(act((ctx, [id, urls]) => memberUpdateCommand(ctx, id ?? '', urls ?? '')));
  member.command('remove <memberID>').description('remove a member (hex id, decimal id or name)')
    .action(act((ctx, [id]) => memberRemoveCommand(ctx, id ?? '')));
  member.command('promote <memberID>').description('promote a learner to a voting member')
    .action(act((ctx, [id]) => memberPromoteCommand(ctx, id ?? '')));
}

/** `user …`, `role …`, `auth …` (commands/auth.ts), grouped under their first word. */
function addAuthCommands(program: Command, act: Act): void {
  const groups = new Map<string, Command>();
  for (const c of AUTH_COMMANDS) {
    const [group = '', ...rest] = c.spec.split(' ');
    let parent = groups.get(group);
    if (parent === undefined) {
      parent = program.command(group).description(`etcd auth: ${group} commands (docs/auth.md)`);
      groups.set(group, parent);
    }
    const sub = parent.command(rest.join(' ')).description(c.description);
    for (const [flag, description] of c.flags ?? []) sub.option(flag, description);
    sub.action(act((ctx, args, o) => c.run(ctx, args, o)));
  }
}

type Handler = (ctx: CommandContext, args: string[], opts: Opts) => Promise<Output | void>;
type Act = (handler: Handler) => (...raw: unknown[]) => Promise<void>;

/** The package's version, read from its package.json (two folders up from src/cli and dist/cli). */
const PACKAGE_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Builds the program; `io` receives all output (tests pass a buffer). */
export function buildProgram(io: Io, state: RunState): Command {
  const program = new Command('quorumkv');
  program
    .description('operate a quorumkv cluster: etcdctl-style commands over the JSON endpoint, or run a member')
    .version(PACKAGE_VERSION)
    .option('--endpoints <urls>', 'comma-separated client URLs', process.env['QUORUMKV_ENDPOINTS'] ?? 'http://127.0.0.1:2379')
    .option('--json', 'print JSON (etcd v2 response shapes)')
    .option('--table', 'print a table')
    .option('--token <token>', 'bearer token (visible in ps: prefer QUORUMKV_TOKEN or --token-file)')
    .option('--token-file <file>', 'file holding the bearer token (or QUORUMKV_TOKEN_FILE)')
    .option('--user <name[:password]>', 'etcd auth user (without :password: QUORUMKV_PASSWORD, else asked for)')
    .option('--cacert <file>', 'CA bundle to verify https endpoints')
    .option('--cert <file>', 'client certificate for https endpoints')
    .option('--key <file>', 'client key for https endpoints')
    .option('--insecure-skip-tls-verify', 'do not verify the endpoint certificate')
    .option('--dial-timeout <ms>', 'connect timeout per endpoint', '2000')
    .option('--command-timeout <ms>', 'timeout of each request', '10000')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  const act: Act = (handler) => async (...raw: unknown[]) => {
    const cmd = raw[raw.length - 1] as Command;
    const opts = cmd.opts<Opts>();
    const args = cmd.args.map(String);
    const g = program.opts<GlobalFlags>();
    const format = formatOf(g);
    try {
      const out = await handler(contextOf(g, io), args, opts);
      if (out !== undefined) print(io, format, out);
      state.exitCode = 0;
    } catch (err) {
      const e = err instanceof CliError ? err : new CliError(err instanceof Error ? err.message : String(err), EXIT_SERVER_ERROR);
      printError(io, format, e);
      state.exitCode = e.exitCode;
    }
  };
  addKeyCommands(program, act);
  addDirCommands(program, act);
  addWatchCommands(program, act);
  addMaintenanceCommands(program, act);
  addMemberCommands(program, act, state);
  addAuthCommands(program, act);
  const quietExit = (cmd: Command): void => {
    for (const c of cmd.commands) {
      c.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
      quietExit(c);
    }
  };
  quietExit(program);
  return program;
}

/** Runs the CLI on `argv` (without node and script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: Io = stdio): Promise<number> {
  const state: RunState = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT_BAD_ARGS;
    }
    const e = err instanceof CliError ? err : new CliError(err instanceof Error ? err.message : String(err), EXIT_SERVER_ERROR);
    printError(io, 'simple', e);
    return e.exitCode;
  }
  return state.exitCode;
}
