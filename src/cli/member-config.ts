/**
 * Where the standalone member's settings come from (the table is member-settings.ts).
 * Precedence: flag > environment > config file > default. Secrets (the client and peer tokens)
 * come from the environment or a file, never from the config file itself; the flags that take
 * them are accepted but reported, to be warned about (ps shows them).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CliError, EXIT_BAD_ARGS } from './errors.ts';
import { CONFIG_FILE_ENV, MEMBER_SETTINGS, readTokenFile } from './member-settings.ts';
import type { Environment, ExposedSecret, MemberFlags, ResolvedMemberFlags, Setting, SettingKey } from './member-settings.ts';

/** Largest config file read. @default 1 MiB */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/**
 * The member's settings from the command line (`cli`: only the flags given, as commander parsed
 * them), the environment and the config file. Throws CliError (exit 1) naming what is wrong.
 */
export function resolveMemberFlags(cli: Readonly<Record<string, unknown>>, env: Environment): ResolvedMemberFlags {
  const configPath = text(cli['configFile']) ?? firstEnv(env, CONFIG_FILE_ENV)?.value;
  const file = configPath === undefined ? new Map<string, string>() : readConfigFile(configPath);
  const out: Partial<Record<SettingKey, string>> = {};
  for (const s of MEMBER_SETTINGS) {
    const fromCli = firstFlag(cli, s);
    const fromEnv = firstEnv(env, s.env);
    const fileKey = s.file.find((k) => file.has(k));
    const [value, where] =
      fromCli !== undefined ? [fromCli.value, fromCli.name]
      : fromEnv !== undefined ? [fromEnv.value, fromEnv.name]
      : fileKey !== undefined ? [file.get(fileKey), `${configPath ?? ''}: ${fileKey}`]
      : [s.default, ''];
    if (value === undefined) continue;
    out[s.key] = s.oneUrl === true ? oneUrl(value, where) : value;
  }
  const exposedSecrets: ExposedSecret[] = [];
  if (text(cli['clientToken']) !== undefined) exposedSecrets.push('--client-token');
  if (text(cli['peerToken']) !== undefined) exposedSecrets.push('--peer-token');
  const clientToken = out.clientToken ?? readTokenFile(out.clientTokenFile, '--client-token-file');
  const peerToken = out.peerToken ?? readTokenFile(out.peerTokenFile, '--peer-token-file');
  if (clientToken !== undefined) out.clientToken = clientToken;
  if (peerToken !== undefined) out.peerToken = peerToken;
  const { clientTokenFile: _c, peerTokenFile: _p, ...flags } = out;
  return { flags: flags as MemberFlags, exposedSecrets };
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** commander's attribute name of a flag: `--listen-peer-urls <urls>` → `listenPeerUrls`. */
export function attributeOf(flag: string): string {
  const name = (flag.split(' ')[0] ?? '').replace(/^--/, '');
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The first of a setting's flags given on the command line (its own spelling, then etcd's). */
function firstFlag(cli: Readonly<Record<string, unknown>>, s: Setting): { name: string; value: string } | undefined {
  for (const flag of [s.flag, ...(s.aliases ?? [])]) {
    const value = text(cli[attributeOf(flag)]);
    if (value !== undefined) return { name: flag.split(' ')[0] ?? flag, value };
  }
  return undefined;
}

function firstEnv(env: Environment, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

/** etcd's settings are URL lists; a quorumkv member listens on one URL. */
function oneUrl(value: string, where: string): string {
  const urls = value.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (urls.length !== 1) throw new CliError(`${where} must be exactly one URL (a quorumkv member listens on one), got ${value}`, EXIT_BAD_ARGS);
  return urls[0] as string;
}

/** The config file's keys this member knows, flattened (`client-transport-security.cert-file`). */
const FILE_KEYS: ReadonlySet<string> = new Set(MEMBER_SETTINGS.flatMap((s) => s.file));

/** Reads an etcd-shaped YAML config file into flat key → string; an unknown key is an error. */
export function readConfigFile(path: string): Map<string, string> {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read --config-file ${path}: ${(err as Error).message}`, EXIT_BAD_ARGS);
  }
  if (raw.length > MAX_CONFIG_FILE_BYTES) throw new CliError(`--config-file ${path} is over ${MAX_CONFIG_FILE_BYTES} bytes`, EXIT_BAD_ARGS);
  let doc: unknown;
  try {
    // Aliases are expanded at most 100 times: a "billion laughs" file cannot blow up memory.
    doc = parseYaml(raw.toString('utf8'), { maxAliasCount: 100 });
  } catch (err) {
    throw new CliError(`--config-file ${path} is not valid YAML: ${(err as Error).message.split('\n', 1)[0] ?? ''}`, EXIT_BAD_ARGS);
  }
  const out = new Map<string, string>();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new CliError(`--config-file ${path} must be a mapping of etcd config keys`, EXIT_BAD_ARGS);
  const unknown: string[] = [];
  flatten(doc as Record<string, unknown>, '', out, unknown, path);
  if (unknown.length > 0) throw new CliError(`--config-file ${path}: unknown key${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}`, EXIT_BAD_ARGS);
  return out;
}

function flatten(obj: Record<string, unknown>, prefix: string, out: Map<string, string>, unknown: string[], path: string): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = `${prefix}${k}`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && prefix === '') {
      flatten(v as Record<string, unknown>, `${key}.`, out, unknown, path);
      continue;
    }
    if (!FILE_KEYS.has(key)) {
      unknown.push(key);
      continue;
    }
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new CliError(`--config-file ${path}: ${key} must be a string or a number`, EXIT_BAD_ARGS);
    out.set(key, String(v));
  }
}
