/**
 * The password of `--user name` without `:password`: QUORUMKV_PASSWORD, else a prompt on the
 * terminal that does not echo what is typed (as etcdctl's). Never read from the command line
 * unless given there, where `ps` shows it to every user.
 */
import { CliError, EXIT_BAD_ARGS } from './errors.ts';
import type { ClientUser } from './client.ts';

/** Longest password read from the terminal, in characters. */
const MAX_PASSWORD_CHARS = 1024;

export function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return Promise.reject(new CliError('--user without a password needs QUORUMKV_PASSWORD or a terminal to ask on', EXIT_BAD_ARGS));
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (err?: CliError): void => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err === undefined) resolve(typed);
      else reject(err);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new CliError('interrupted', EXIT_BAD_ARGS));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
        if (typed.length > MAX_PASSWORD_CHARS) return finish(new CliError(`password longer than ${MAX_PASSWORD_CHARS} characters`, EXIT_BAD_ARGS));
      }
    };
    input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

/** The user of `--user name[:password]`. */
export function userOf(flag: string): ClientUser {
  const colon = flag.indexOf(':');
  const name = colon < 0 ? flag : flag.slice(0, colon);
  if (name === '') throw new CliError('--user needs a user name (name[:password])', EXIT_BAD_ARGS);
  if (colon >= 0) {
    const password = flag.slice(colon + 1);
    return { name, password: () => Promise.resolve(password) };
  }
  const fromEnv = process.env['QUORUMKV_PASSWORD'];
  if (fromEnv !== undefined) return { name, password: () => Promise.resolve(fromEnv) };
  let asked: Promise<string> | undefined;
  return { name, password: () => (asked ??= promptHidden('Password: ')) };
}
