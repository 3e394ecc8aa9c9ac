/**
 * What every client command gets (the endpoint client, the output format, stdout/stderr), and
 * the parsers of the flags several commands share.
 */
import type { ApiClient, JsonObject } from './client.ts';
import { CliError, EXIT_BAD_ARGS } from './errors.ts';
import { num } from './keys.ts';
import type { Format, Io } from './output.ts';

export interface CommandContext {
  readonly client: ApiClient;
  readonly format: Format;
  readonly io: Io;
}

/** The revision in a v3 reply's header (0 when it has none). */
export function revisionOf(reply: JsonObject): number {
  const h = reply['header'];
  return typeof h === 'object' && h !== null ? num((h as JsonObject)['revision']) : 0;
}

export function parseTtl(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--ttl must be a whole number of seconds, got ${raw}`, EXIT_BAD_ARGS);
  return n;
}

export function parseIndex(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError(`${flag} must be a non-negative integer, got ${raw}`, EXIT_BAD_ARGS);
  return n;
}
