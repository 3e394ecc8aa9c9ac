/**
 * The CLI's HTTP client for the JSON endpoint. Requests go to the first endpoint that answers;
 * only a connection failure moves on to the next one (an answer — even an error — is final, so a
 * write is never sent twice). Built on node:http/https so TLS options (CA, client certificate)
 * work without extra dependencies.
 */
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CliError, EXIT_BAD_AUTH, EXIT_BAD_CONNECTION, EXIT_SERVER_ERROR } from './errors.ts';

export type JsonObject = Record<string, unknown>;

/** An etcd auth user (`--user`): the password is asked for only when a call needs it. */
export interface ClientUser {
  readonly name: string;
  readonly password: () => Promise<string>;
}

export interface ClientOptions {
  readonly endpoints: readonly string[];
  readonly token?: string;
  /** Authenticate as this user on each endpoint (its simple token is per member) and send the token. */
  readonly user?: ClientUser;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecureSkipVerify?: boolean;
  /** Connect timeout per endpoint in ms. */
  readonly dialTimeoutMs: number;
  /** Whole-request timeout in ms (not applied to streams). */
  readonly commandTimeoutMs: number;
}

/** Largest response body the client buffers (a range can be big). @default 256 MiB */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/**
 * Stream messages parsed but not yet handled before the reader pauses the socket (exec-watch runs
 * one command per change): the backlog stays bounded here, and a server that keeps sending sees
 * backpressure and cancels the watch as slow instead. @default 256
 */
export const MAX_PENDING_STREAM_MESSAGES = 256;

class ConnectError extends Error {}

/** A request ended by its caller's signal (a long poll stopped by SIGINT), not a failure. */
export class AbortedRequest extends Error {
  constructor() {
    super('request aborted by the caller');
    this.name = 'AbortedRequest';
  }
}

const AUTHENTICATE = '/v3/auth/authenticate';

export class ApiClient {
  readonly #options: ClientOptions;
  /** The auth token of each endpoint, fetched once (tokens are issued per member). */
  readonly #authTokens = new Map<string, Promise<string>>();

  constructor(options: ClientOptions) {
    if (options.endpoints.length === 0) throw new CliError('no endpoints given (--endpoints)', 1);
    this.#options = options;
  }

  get endpoints(): readonly string[] {
    return this.#options.endpoints;
  }

  /** A unary call: POST `path` with `body`; the parsed JSON reply, or a CliError. */
  async call(path: string, body: JsonObject = {}, endpoint?: string): Promise<JsonObject> {
    const res = await this.#open(path, body, endpoint, this.#options.commandTimeoutMs);
    const text = await readAll(res);
    return decodeReply(res.statusCode ?? 0, text);
  }

  /**
   * An etcd v2 request (src/v2): `method` on `path` with a form body (PUT/POST) or none, on the
   * first endpoint that accepts a connection; its status and parsed JSON, errors included. A
   * long poll (`wait=true`) passes `longPoll`: no command timeout, and `signal` ends it (with
   * an {@link AbortedRequest}).
   */
  async v2(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, form?: string, longPoll?: { readonly signal: AbortSignal }): Promise<{ status: number; body: JsonObject }> {
    const failures: string[] = [];
    const timeoutMs = longPoll === undefined ? this.#options.commandTimeoutMs : 0;
    for (const endpoint of this.#options.endpoints) {
      try {
        const res = await this.#send(endpoint, path, method, form, timeoutMs, 'application/x-www-form-urlencoded', longPoll?.signal);
        return { status: res.statusCode ?? 0, body: parseJson(await readAll(res)) };
      } catch (err) {
        if (!(err instanceof ConnectError)) throw err;
        failures.push(`${endpoint}: ${err.message}`);
      }
    }
    throw new CliError(`cluster is unavailable or misconfigured: ${failures.join('; ')}`, EXIT_BAD_CONNECTION);
  }

  /** GET `path` on one endpoint; status and parsed JSON (for /health). */
  async get(path: string, endpoint: string): Promise<{ status: number; body: JsonObject }> {
    const res = await this.#send(endpoint, path, 'GET', undefined, this.#options.commandTimeoutMs);
    const text = await readAll(res);
    return { status: res.statusCode ?? 0, body: parseJson(text) };
  }

  /**
   * A streaming call: each newline-delimited `{"result": …}` message goes to `onMessage`, which
   * returns false to stop. Resolves when the stream ends or is stopped; `signal` stops it too.
   */
  async stream(path: string, body: JsonObject, onMessage: (result: JsonObject) => boolean | Promise<boolean>, signal?: AbortSignal): Promise<void> {
    const res = await this.#open(path, body, undefined, 0);
    if (res.statusCode !== 200) return void decodeReply(res.statusCode ?? 0, await readAll(res));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      let chain = Promise.resolve(true);
      let pending = 0;
      const stop = (): void => {
        res.destroy();
        resolve();
      };
      signal?.addEventListener('abort', stop, { once: true });
      res.setEncoding('utf8');
      const fail = (err: unknown): void => {
        res.destroy();
        reject(err);
      };
      res.on('data', (chunk: string) => {
        buffered += chunk;
        // The endpoint's bytes: a line that never ends must not grow without bound, and a line
        // that is not JSON must reject this call, not throw inside the listener (uncaught).
        if (buffered.length > MAX_RESPONSE_BYTES) return fail(new CliError(`stream line over ${MAX_RESPONSE_BYTES} bytes`, EXIT_SERVER_ERROR));
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line === '') continue;
          let msg: JsonObject;
          try {
            msg = parseJson(line);
          } catch (err) {
            return fail(err);
          }
          pending += 1;
          if (pending >= MAX_PENDING_STREAM_MESSAGES) res.pause();
          chain = chain.then(async (go) => {
            pending -= 1;
            if (pending < MAX_PENDING_STREAM_MESSAGES / 2 && res.isPaused()) res.resume();
            if (!go) return false;
            const error = msg['error'];
            if (error !== undefined) throw errorFromBody(200, typeof error === 'object' && error !== null ? (error as JsonObject) : { message: String(error) });
            const more = await onMessage((msg['result'] ?? {}) as JsonObject);
            if (!more) stop();
            return more;
          });
          chain.catch((err: unknown) => {
            res.destroy();
            reject(err);
          });
        }
      });
      res.on('end', () => void chain.then(() => resolve(), reject));
      res.on('close', () => void chain.then(() => resolve(), reject));
      res.on('error', (err) => reject(new CliError(`stream broken: ${err.message}`, EXIT_BAD_CONNECTION)));
    });
  }

  async #open(path: string, body: JsonObject, only: string | undefined, timeoutMs: number): Promise<IncomingMessage> {
    const failures: string[] = [];
    for (const endpoint of only === undefined ? this.#options.endpoints : [only]) {
      try {
        return await this.#send(endpoint, path, 'POST', JSON.stringify(body), timeoutMs);
      } catch (err) {
        if (!(err instanceof ConnectError)) throw err;
        failures.push(`${endpoint}: ${err.message}`);
      }
    }
    throw new CliError(`cluster is unavailable or misconfigured: ${failures.join('; ')}`, EXIT_BAD_CONNECTION);
  }

  async #send(endpoint: string, path: string, method: string, payload: string | undefined, timeoutMs: number, contentType = 'application/json', signal?: AbortSignal): Promise<IncomingMessage> {
    const user = this.#options.user;
    const authToken = user === undefined ? undefined : await this.#authTokenOf(endpoint, user);
    return this.#request(endpoint, path, method, payload, timeoutMs, contentType, authToken, signal);
  }

  #authTokenOf(endpoint: string, user: ClientUser): Promise<string> {
    let token = this.#authTokens.get(endpoint);
    if (token === undefined) {
      token = (async () => {
        const body = JSON.stringify({ name: user.name, password: await user.password() });
        const res = await this.#request(endpoint, AUTHENTICATE, 'POST', body, this.#options.commandTimeoutMs, 'application/json', undefined);
        const reply = decodeReply(res.statusCode ?? 0, await readAll(res));
        if (typeof reply['token'] !== 'string') throw new CliError(`${endpoint} sent no auth token`, EXIT_SERVER_ERROR);
        return reply['token'];
      })();
      // A failed attempt (a dial error moves on to the next endpoint) is not kept.
      token.catch(() => this.#authTokens.delete(endpoint));
      this.#authTokens.set(endpoint, token);
    }
    return token;
  }

  #request(endpoint: string, path: string, method: string, payload: string | undefined, timeoutMs: number, contentType: string, authToken: string | undefined, signal?: AbortSignal): Promise<IncomingMessage> {
    let url: URL;
    try {
      url = new URL(path, endpoint);
    } catch {
      return Promise.reject(new CliError(`bad endpoint URL ${endpoint}`, 1));
    }
    const o = this.#options;
    const headers: Record<string, string> = { 'content-type': contentType };
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
    if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
    // etcd's header name: `Authorization` may already carry the endpoint's bearer token.
    if (authToken !== undefined) headers['token'] = authToken;
    const secure = url.protocol === 'https:';
    const tls = secure ? { ...(o.ca ? { ca: o.ca } : {}), ...(o.cert ? { cert: o.cert } : {}), ...(o.key ? { key: o.key } : {}), rejectUnauthorized: o.insecureSkipVerify !== true } : {};
    if (signal?.aborted === true) return Promise.reject(new AbortedRequest());
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req: ClientRequest = (secure ? httpsRequest : httpRequest)(url, { method, headers, ...tls });
      if (signal !== undefined) {
        const abort = (): void => void req.destroy(new AbortedRequest());
        signal.addEventListener('abort', abort, { once: true });
        req.once('close', () => signal.removeEventListener('abort', abort));
      }
      let connected = false;
      const dial = setTimeout(() => req.destroy(new ConnectError(`dial timeout after ${o.dialTimeoutMs} ms`)), o.dialTimeoutMs);
      req.on('socket', (socket) => {
        const done = (): void => {
          connected = true;
          clearTimeout(dial);
        };
        // A kept-alive socket is already connected and will not emit connect again.
        if (!socket.connecting) return done();
        const event = secure ? 'secureConnect' : 'connect';
        socket.once(event, done);
        req.once('close', () => socket.off(event, done));
      });
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new CliError(`request to ${endpoint} timed out after ${timeoutMs} ms`, EXIT_BAD_CONNECTION)));
      req.on('response', (res) => {
        clearTimeout(dial);
        resolve(res);
      });
      req.on('error', (err: Error) => {
        clearTimeout(dial);
        if (err instanceof CliError || err instanceof ConnectError || err instanceof AbortedRequest) reject(err);
        else if (!connected) reject(new ConnectError(err.message));
        else reject(new CliError(`request to ${endpoint} failed: ${err.message}`, EXIT_BAD_CONNECTION));
      });
      req.end(payload);
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.destroy();
        reject(new CliError(`response over ${MAX_RESPONSE_BYTES} bytes`, EXIT_SERVER_ERROR));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', (err) => reject(new CliError(`response broken: ${err.message}`, EXIT_BAD_CONNECTION)));
  });
}

function parseJson(text: string): JsonObject {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as JsonObject;
  } catch {
    // fall through
  }
  throw new CliError(`endpoint sent a reply that is not a JSON object: ${text.slice(0, 200)}`, EXIT_SERVER_ERROR);
}

function decodeReply(status: number, text: string): JsonObject {
  const body = parseJson(text);
  if (status === 200) return body;
  throw errorFromBody(status, body);
}

/** `mvcc: key not found (/a)` → `/a`. */
function causeOf(message: string): string | undefined {
  const m = /\(([^()]*)\)\s*$/.exec(message) ?? /\(([^()]*)\)/.exec(message);
  return m?.[1];
}

export function errorFromBody(status: number, body: JsonObject): CliError {
  const message = typeof body['message'] === 'string' ? body['message'] : `HTTP ${status}`;
  const code = typeof body['code'] === 'string' ? body['code'] : undefined;
  const index = typeof body['index'] === 'number' ? body['index'] : undefined;
  const v2 = typeof body['errorCode'] === 'number' ? body['errorCode'] : undefined;
  if (v2 !== undefined && [100, 101, 102, 104, 105, 108].includes(v2)) {
    const err = CliError.v2(v2, causeOf(message) ?? '', index);
    return code === undefined ? err : new CliError(err.message, err.exitCode, { errorCode: v2, cause: causeOf(message) ?? '', ...(index === undefined ? {} : { index }), code });
  }
  const exit = code === 'UNAUTHENTICATED' ? EXIT_BAD_AUTH : EXIT_SERVER_ERROR;
  return new CliError(code === undefined ? message : `${message} (${code})`, exit, code === undefined ? {} : { code });
}
