/**
 * One authenticated inbound connection: a peer → this member. Every frame is decoded and
 * validated before anything reaches the handler; the first malformed frame closes the connection
 * with a logged reason (the peer reconnects; this member keeps running). Snapshot streams are
 * reassembled into one buffer bounded by `maxSnapshotBytes`, then delivered and acknowledged.
 */
import type WebSocket from 'ws';
import type { Message, NodeId, PeerMessage } from '../protocol/types.ts';
import { ProtocolError } from '../errors.ts';
import type { WireCodec } from './wire.ts';
import type { WsConfig } from './ws-options.ts';
import { validateBatch, validateSnapshotBegin } from './validate.ts';

export interface InboundEnv {
  readonly self: NodeId;
  readonly config: WsConfig;
  readonly codec: WireCodec;
  deliver(from: NodeId, messages: readonly PeerMessage[]): void;
  rejectedFrame(peer: NodeId, reason: string): void;
}

interface Reassembly {
  readonly stream: number;
  readonly message: Message;
  /** The size the sender announced (already checked against maxSnapshotBytes). */
  readonly totalBytes: number;
  // Invariant: received <= totalBytes, and the bytes received are in `chunks` (before `data`
  // exists) or in `data`. Chunks are kept as they arrive until an eighth of the announced size
  // has come; then `data` gets the whole size and every byte goes straight into it. So memory
  // follows the bytes actually received (at most 8× them): a peer announcing 1 GiB and sending
  // nothing costs nothing (and cannot make a huge up-front allocation fail with a RangeError
  // inside a socket listener), while a large snapshot never holds all its chunks and a full
  // copy at once (joining them only at the end briefly took twice the snapshot's size).
  chunks: Uint8Array[];
  data: Uint8Array | undefined;
  received: number;
}

export class InboundConnection {
  readonly peer: NodeId;
  readonly #ws: WebSocket;
  readonly #env: InboundEnv;
  #closed = false;
  #reassembly: Reassembly | undefined;

  constructor(env: InboundEnv, peer: NodeId, ws: WebSocket) {
    this.#env = env;
    this.peer = peer;
    this.#ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onFrame(data, isBinary));
    ws.on('error', (err) => {
      // ws reports oversized (maxPayload) and malformed WebSocket frames here, then closes.
      if (this.#closed) return;
      this.#closed = true;
      this.#env.rejectedFrame(this.peer, err.message);
    });
    ws.on('close', () => {
      this.#closed = true;
      this.#reassembly = undefined;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection (replaced by a newer one, peer removed, member stopping). */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reassembly = undefined;
    this.#ws.close(code, reason);
    setTimeout(() => this.#ws.terminate(), 500).unref();
  }

  terminate(): void {
    this.#closed = true;
    this.#reassembly = undefined;
    this.#ws.terminate();
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    this.#env.config.observer?.received(this.peer, data.byteLength);
    try {
      if (!isBinary) throw new ProtocolError('transport: malformed frame: text frame');
      // Decoded byte fields are views of the frame: give the frame its own exact-size memory so a
      // small retained entry never pins a large socket read buffer.
      const frame = data.byteOffset === 0 && data.buffer.byteLength === data.byteLength ? data : new Uint8Array(data);
      this.#handle(frame);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.#closed = true;
      this.#reassembly = undefined;
      this.#ws.terminate();
      this.#env.rejectedFrame(this.peer, err.message);
    }
  }

  #handle(frame: Uint8Array): void {
    const env = this.#env;
    const ctx = { from: this.peer, to: env.self };
    const decoded = env.codec.decodeFrame(frame);
    switch (decoded.kind) {
      case 'batch':
        env.deliver(this.peer, validateBatch(decoded.body, ctx, env.config.maxBatchMessages));
        return;
      case 'snapshotBegin': {
        if (this.#reassembly !== undefined) throw new ProtocolError('transport: malformed frame: snapshot stream started while another is open');
        const begin = validateSnapshotBegin(decoded.body, ctx, env.config.maxSnapshotBytes);
        this.#reassembly = { stream: begin.stream, message: begin.message, totalBytes: begin.totalBytes, chunks: [], data: undefined, received: 0 };
        return;
      }
      case 'snapshotChunk': {
        const r = this.#reassembly;
        if (r === undefined || r.stream !== decoded.stream) throw new ProtocolError(`transport: malformed frame: chunk of unknown snapshot stream ${decoded.stream}`);
        if (decoded.offset !== r.received) throw new ProtocolError(`transport: malformed frame: snapshot chunk at offset ${decoded.offset}, expected ${r.received}`);
        if (decoded.bytes.byteLength === 0 || decoded.bytes.byteLength > env.config.snapshotChunkBytes * 4) {
          throw new ProtocolError(`transport: malformed frame: snapshot chunk of ${decoded.bytes.byteLength} bytes`);
        }
        if (r.received + decoded.bytes.byteLength > r.totalBytes) throw new ProtocolError('transport: malformed frame: snapshot chunk past the announced size');
        if (r.data !== undefined) r.data.set(decoded.bytes, r.received);
        else {
          // The chunk is a view of its frame, which #onFrame gave exact-size memory of its own.
          r.chunks.push(decoded.bytes);
          if ((r.received + decoded.bytes.byteLength) * 8 >= r.totalBytes) {
            r.data = joinChunks(r.chunks, r.totalBytes);
            r.chunks = [];
          }
        }
        r.received += decoded.bytes.byteLength;
        return;
      }
      case 'snapshotEnd': {
        const r = this.#reassembly;
        if (r === undefined || r.stream !== decoded.stream) throw new ProtocolError(`transport: malformed frame: end of unknown snapshot stream ${decoded.stream}`);
        if (r.received !== r.totalBytes) throw new ProtocolError(`transport: malformed frame: snapshot ended after ${r.received} of ${r.totalBytes} bytes`);
        this.#reassembly = undefined;
        const snapshot = r.message.snapshot;
        if (snapshot === undefined) throw new ProtocolError('transport: malformed frame: snapshot stream without a snapshot');
        const data = r.data ?? joinChunks(r.chunks, r.totalBytes);
        env.deliver(this.peer, [{ ...r.message, snapshot: { meta: snapshot.meta, data } }]);
        if (!this.#closed) this.#ws.send(env.codec.encodeSnapshotAck(r.stream, true));
        return;
      }
      case 'snapshotAck':
        throw new ProtocolError('transport: malformed frame: snapshot acknowledgement on an inbound connection');
    }
  }
}

/** A buffer of `totalBytes` starting with the chunks (the rest zero until written). */
function joinChunks(chunks: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const data = new Uint8Array(totalBytes);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return data;
}
