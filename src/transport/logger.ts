/**
 * The logger the transports write to: pino-compatible `(obj, msg)` calls. Tests pass a capturing
 * logger; the default writes warnings and errors to stderr and drops the rest (docs/design.md,
 * "Public contract").
 */
export interface TransportLogger {
  debug?(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

/** Warnings and errors to stderr, one line each; info and debug are dropped. */
export const stderrLogger: TransportLogger = Object.freeze({
  info(): void {},
  warn(obj: object, msg: string): void {
    process.stderr.write(`WARN ${msg} ${JSON.stringify(obj)}\n`);
  },
  error(obj: object, msg: string): void {
    process.stderr.write(`ERROR ${msg} ${JSON.stringify(obj)}\n`);
  },
});

/** Logs at error level when the logger has one, else at warn. */
export function logError(logger: TransportLogger, obj: object, msg: string): void {
  if (logger.error) logger.error(obj, msg);
  else logger.warn(obj, msg);
}
