/**
 * The standalone member's one logger: node, raft, storage, transport, the gateway and the member
 * itself all log through it. `json` (the default) is pino, one JSON object per line; `text` is
 * one readable line per record (`<time> <LEVEL> <msg> <fields as JSON>`), for a terminal. Lines
 * go to `write` (stdout); a secret under a `token` field is never printed.
 */
import { pino } from 'pino';
import type { Logger } from '../node/types.ts';

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface MemberLoggerOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Receives each line, newline included. */
  readonly write: (line: string) => void;
}

/** Field names whose values are secrets: logged as `[redacted]`. */
const SECRET_FIELDS = ['token', 'clientToken', 'peerToken', '*.token', '*.clientToken', '*.peerToken'];

export function createMemberLogger(options: MemberLoggerOptions): Logger {
  if (options.format === 'text') return textLogger(options.level, options.write, {});
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not pino's numbers: what an operator greps for and what etcd's zap prints.
      formatters: { level: (label: string) => ({ level: label }) },
      redact: { paths: SECRET_FIELDS, censor: '[redacted]' },
    },
    { write: options.write },
  );
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

function textLogger(level: LogLevel, write: (line: string) => void, bindings: Readonly<Record<string, unknown>>): Logger {
  const at = (lineLevel: LogLevel) => (obj: object, msg: string): void => {
    if (RANK[lineLevel] < RANK[level]) return;
    const fields = { ...bindings, ...obj };
    const extra = Object.keys(fields).length === 0 ? '' : ` ${textFields(fields)}`;
    write(`${new Date().toISOString()} ${lineLevel.toUpperCase()} ${msg}${extra}\n`);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => textLogger(level, write, { ...bindings, ...more }),
  };
}

function textFields(fields: object): string {
  try {
    return JSON.stringify(fields, (key, v: unknown) => (SECRET_FIELDS.includes(key) ? '[redacted]' : v instanceof Error ? v.message : v));
  } catch {
    return '{}';
  }
}
