/**
 * One gRPC call on one HTTP/2 stream: incoming messages (deframed, bounded queue with HTTP/2 flow
 * control as backpressure), outgoing messages, the deadline and cancellation as an AbortSignal,
 * and the final status in trailers (or a trailers-only response when nothing was sent). Every
 * path ends the stream exactly once.
 */
import type { ServerHttp2Stream } from 'node:http2';
import { OPEN_IDENTITY } from '../node/auth/auth-api.ts';
import type { AuthIdentity } from '../node/auth/auth-api.ts';
import { frame, FrameParser } from './framing.ts';
import { encodeGrpcMessage, GrpcError, Status } from './status.ts';
import type { StatusCode } from './status.ts';

/** Messages queued unread by a handler before the stream is paused (flow control). */
const MAX_QUEUED_MESSAGES = 64;

export class Call {
  readonly stream: ServerHttp2Stream;
  /** Who is calling (access.ts sets it before the handler runs; `open` while auth is disabled). */
  identity: AuthIdentity = OPEN_IDENTITY;
  /** The auth revision the caller was checked at: writes apply only if auth is unchanged since. */
  authRevision: number | undefined;
  readonly #aborter = new AbortController();
  readonly #parser: FrameParser;
  #queue: Uint8Array[] = [];
  #waiter: (() => void) | undefined;
  #inputEnded = false;
  #inputError: GrpcError | undefined;
  #headersSent = false;
  #finished = false;
  #timer: NodeJS.Timeout | undefined;
  #flushed: Promise<void> = Promise.resolve();

  constructor(stream: ServerHttp2Stream, maxMessageBytes: number, timeoutMs: number | undefined) {
    this.stream = stream;
    this.#parser = new FrameParser(maxMessageBytes);
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('end', () => {
      if (this.#parser.partial) this.#inputError ??= new GrpcError(Status.INTERNAL, 'grpc: stream ended inside a message');
      this.#inputEnded = true;
      this.#wake();
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      const cancelled = !this.#finished;
      this.#finished = true;
      this.#clearTimer();
      this.#inputEnded = true;
      this.#wake();
      // Only a stream closed before its status was sent cancels the work behind it.
      if (cancelled && !this.#aborter.signal.aborted) this.#aborter.abort(new GrpcError(Status.CANCELLED, 'context canceled'));
    });
    if (timeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        const err = new GrpcError(Status.DEADLINE_EXCEEDED, 'context deadline exceeded');
        this.#aborter.abort(err);
        this.finish(err.status, err.message);
      }, Math.max(0, timeoutMs));
      this.#timer.unref();
    }
  }

  /** Aborted on deadline, client cancel/reset, or server shutdown. */
  get signal(): AbortSignal {
    return this.#aborter.signal;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Bytes written but not yet taken by the peer (watch backpressure). */
  get unsentBytes(): number {
    return this.stream.writableLength;
  }

  #onData(chunk: Buffer): void {
    if (this.#inputError !== undefined) return;
    try {
      for (const m of this.#parser.push(chunk)) this.#queue.push(m);
    } catch (err) {
      this.#inputError = err instanceof GrpcError ? err : new GrpcError(Status.INTERNAL, String(err));
      // The stream is answered at once: a handler waiting on input would never see the rest.
      this.fail(this.#inputError);
      return;
    }
    if (this.#queue.length >= MAX_QUEUED_MESSAGES) this.stream.pause();
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  /** The next request message; undefined when the client half-closed. Throws on a framing error. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#inputError !== undefined) throw this.#inputError;
      const m = this.#queue.shift();
      if (m !== undefined) {
        if (this.#queue.length < MAX_QUEUED_MESSAGES / 2 && this.stream.isPaused()) this.stream.resume();
        return m;
      }
      if (this.#inputEnded || this.#finished) return undefined;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** The single request of a unary or server-streaming call. */
  async only(): Promise<Uint8Array> {
    const m = await this.next();
    if (m === undefined) throw new GrpcError(Status.INTERNAL, 'grpc: the request carries no message');
    const extra = await this.next();
    if (extra !== undefined) throw new GrpcError(Status.INTERNAL, 'grpc: a unary request carries more than one message');
    return m;
  }

  #sendHeaders(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' }, { waitForTrailers: true });
  }

  /** Writes one response message; false when the stream is gone. */
  send(message: Uint8Array): boolean {
    if (this.#finished || this.stream.destroyed || this.stream.closed) return false;
    this.#sendHeaders();
    // 'drain' fires only after a write that returned false: the callback of the latest write is
    // what tells that everything queued so far was handed to the session.
    this.#flushed = new Promise<void>((resolve) => this.stream.write(frame(message), () => resolve()));
    return true;
  }

  /** Waits until the queued messages were handed to the session (or the stream closed). */
  drained(): Promise<void> {
    if (this.#finished || this.stream.writableLength === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('close', done);
      void this.#flushed.then(done);
    });
  }

  /** Ends the call with a status. Idempotent: the first status wins. */
  finish(status: StatusCode, message = ''): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimer();
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const trailers: Record<string, string> = { 'grpc-status': String(status) };
    if (message !== '') trailers['grpc-message'] = encodeGrpcMessage(message);
    try {
      if (!this.#headersSent) {
        this.#headersSent = true;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
        this.#closeInput();
      } else {
        stream.once('wantTrailers', () => {
          if (stream.destroyed) return;
          try {
            stream.sendTrailers(trailers);
          } catch {
            stream.destroy();
            return;
          }
          this.#closeInput();
        });
        stream.end();
      }
    } catch {
      stream.destroy();
    }
    if (status !== Status.OK && !this.#aborter.signal.aborted) this.#aborter.abort(new GrpcError(status, message));
  }

  /**
   * After the status, a client still sending has nothing to send for: reset the stream with
   * NO_ERROR (as grpc-go does) so it does not stay half-open.
   */
  #closeInput(): void {
    if (this.#inputEnded) return;
    setImmediate(() => {
      if (!this.stream.destroyed && !this.stream.closed) this.stream.close(0);
    });
  }

  fail(err: GrpcError): void {
    this.finish(err.status, err.message);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
