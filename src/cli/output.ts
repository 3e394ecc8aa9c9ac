/**
 * Every command returns an {@link Output}: plain lines (etcdctl's simple format, the default), a
 * JSON value (`--json`, etcd v2's response shape where there is one) and a table (`--table`).
 */
import { CliError } from './errors.ts';

export interface Table {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface Output {
  readonly lines: readonly string[];
  readonly json: unknown;
  readonly table?: Table;
}

export type Format = 'simple' | 'json' | 'table';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** `err` is a terminal: long commands draw a progress line on it (progress-line.ts). @default false */
  readonly tty?: boolean;
}

export const stdio: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  tty: process.stderr.isTTY === true,
};

export function renderTable(table: Table): string {
  const widths = table.header.map((h, i) => Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const row = (cells: readonly string[]): string => `|${widths.map((w, i) => ` ${(cells[i] ?? '').padEnd(w)} `).join('|')}|`;
  return [line, row(table.header), line, ...table.rows.map(row), line].join('\n');
}

export function print(io: Io, format: Format, output: Output): void {
  if (format === 'json') {
    io.out(`${JSON.stringify(output.json)}\n`);
    return;
  }
  if (format === 'table' && output.table !== undefined) {
    io.out(`${renderTable(output.table)}\n`);
    return;
  }
  for (const l of output.lines) io.out(`${l}\n`);
}

export function printError(io: Io, format: Format, err: CliError): void {
  if (format === 'json') io.err(`${JSON.stringify(err.json())}\n`);
  else io.err(`${err.line()}\n`);
}

/** An output with no text (mkdir, setdir, …) whose JSON is `json`. */
export function quiet(json: unknown): Output {
  return { lines: [], json };
}
