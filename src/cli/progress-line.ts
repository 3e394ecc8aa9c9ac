/**
 * A progress line for long commands (`snapshot save`, `backup`, `snapshot restore`): redrawn in
 * place on stderr when stderr is a terminal, at most every {@link REDRAW_INTERVAL_MS}; nothing at
 * all otherwise, so piped and scripted output stays exactly what it was.
 */
import type { Io } from './output.ts';

/** Least time between two redraws: a fast local snapshot must not spend its time drawing. */
export const REDRAW_INTERVAL_MS = 100;

export interface ProgressLine {
  /** `bytes` done so far, of `totalBytes` when known. */
  update(bytes: number, totalBytes?: number): void;
  /** Draws the last state and ends the line. */
  done(): void;
}

const SILENT: ProgressLine = Object.freeze({ update() {}, done() {} });

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The text of one progress line: `label 12.0 MiB / 40.0 MiB (30%)`. */
export function progressText(label: string, bytes: number, totalBytes: number | undefined): string {
  if (totalBytes === undefined || totalBytes <= 0) return `${label} ${mib(bytes)}`;
  const percent = Math.min(100, Math.floor((bytes / totalBytes) * 100));
  return `${label} ${mib(bytes)} / ${mib(totalBytes)} (${percent}%)`;
}

export function progressLine(io: Io, label: string, nowMs: () => number = () => performance.now()): ProgressLine {
  if (io.tty !== true) return SILENT;
  let last = -Infinity;
  let bytes = 0;
  let totalBytes: number | undefined;
  let width = 0;
  const draw = (): void => {
    const text = progressText(label, bytes, totalBytes);
    // Pad over a longer previous text: `\r` moves back but does not erase.
    io.err(`\r${text.padEnd(width)}`);
    width = text.length;
  };
  return {
    update(done: number, total?: number): void {
      bytes = done;
      totalBytes = total;
      const now = nowMs();
      if (now - last < REDRAW_INTERVAL_MS) return;
      last = now;
      draw();
    },
    done(): void {
      draw();
      io.err('\n');
    },
  };
}
