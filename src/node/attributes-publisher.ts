/**
 * This member's side of etcd's "publish": the name and client URLs it wants the cluster to show
 * for it, proposed through the log once a leader is known and whenever the replicated attributes
 * differ from them (a first start, a restart with another client URL, a member added by
 * MemberAdd without a name). One proposal at a time; a failed one is retried after `retryMs`.
 *
 * A member that published nothing is shown under its id, so a member named by its id and without
 * client URLs proposes nothing at all. Until `want()` gives client URLs (the client endpoint
 * does once it listens), the ones the cluster holds are left as they are: a member starting its
 * endpoint a moment after the node does not first publish none and then its own again.
 */
import type { NodeId } from '../protocol/types.ts';
import { sameUrls } from './member-attributes.ts';
import type { AttributesCommand, MemberAttributes } from './member-attributes.ts';

export interface PublisherHost {
  readonly self: NodeId;
  /** Wait after a failed publish before the next attempt, in ms. */
  readonly retryMs: number;
  now(): number;
  /** `''` while no leader is known. */
  leader(): NodeId;
  /** What the cluster holds for this member (undefined while it is not a member). */
  held(): MemberAttributes | undefined;
  propose(cmd: AttributesCommand): Promise<unknown>;
}

export class AttributesPublisher {
  readonly #host: PublisherHost;
  #name: string;
  /** Undefined until the client URLs are known: the held ones are then kept. */
  #clientUrls: readonly string[] | undefined;
  #inFlight = false;
  /** Clock ms before which no attempt is made (set after a failure). */
  #notBeforeMs = 0;

  constructor(host: PublisherHost, name: string) {
    this.#host = host;
    this.#name = name;
  }

  /** The attributes to publish from now on (validated by the caller). */
  want(name: string, clientUrls: readonly string[]): void {
    this.#name = name;
    this.#clientUrls = [...clientUrls];
  }

  /** The client URLs advertised (empty before any). */
  get clientUrls(): readonly string[] {
    return this.#clientUrls ?? [];
  }

  /** Whether the cluster shows what this member wants. */
  published(): boolean {
    const held = this.#host.held();
    if (held === undefined) return false;
    const name = held.name ?? this.#host.self;
    return name === this.#name && (this.#clientUrls === undefined || sameUrls(held.clientUrls, this.#clientUrls));
  }

  /** Called on every tick: proposes the attributes when they differ and nothing is in flight. */
  maybePublish(): void {
    const host = this.#host;
    if (this.#inFlight || host.leader() === '' || host.now() < this.#notBeforeMs) return;
    if (host.held() === undefined || this.published()) return;
    this.#inFlight = true;
    const clientUrls = this.#clientUrls;
    host.propose({ member: host.self, name: this.#name, ...(clientUrls === undefined ? {} : { clientUrls }) }).then(
      () => {
        this.#inFlight = false;
      },
      () => {
        this.#inFlight = false;
        this.#notBeforeMs = host.now() + host.retryMs;
      },
    );
  }
}
