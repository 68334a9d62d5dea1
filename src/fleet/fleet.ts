import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { ClientTls } from '../tls/client-tls.js';
import { secureContextOf, type LoadedCertificate } from '../tls/certificate-files.js';
import type { Resolution, Resolver } from '../discovery/endpoint.js';
import type { Logger } from '../log/logger.js';
import type { Observer } from '../call/observer.js';
import { RetryingOrigin } from '../upstream/retrying-origin.js';
import type { Origin } from '../upstream/origin.js';
import { Rendezvous, type Member } from './rendezvous.js';
import { PeerUpstream } from './peer-upstream.js';

/** How long a peer that failed a forwarded call gets no forwards. */
const PEER_BACKOFF_MS = 2000;

/** A forwarded call is not retried on the owner (the fleet falls back to the local backend instead). */
const PEER_POLICY = { retries: 0, attemptTimeoutMs: 0, sessionTransfer: false, unavailable: 'fleet peer unavailable' };

/** Why a call an owner should have answered was made here instead. */
export type FallbackReason = 'unreachable' | 'backing_off';

/** A peer corral: its member entry and the origin that forwards calls to it. */
export interface Peer {
  readonly member: Member;
  readonly origin: Origin;
}

/**
 * The fleet of corral sidecars in front of one service: the SERVING instances registered
 * under REGISTRY_SERVICE (watched in etcd), this one included. Every key has one owner
 * among them (rendezvous hashing), the same on every sidecar that sees the same members;
 * a sidecar sends its flight for a key it does not own to the owner's corral, over one
 * HTTP/2 connection per peer. A peer that failed a forwarded call gets none for a short
 * back-off; while etcd cannot be reached the last member list stays.
 */
export class Fleet {
  private ring: Rendezvous;
  private readonly peers = new Map<string, Peer>();
  private readonly backoff = new Map<string, number>();
  /** Flights this sidecar sent to an owner, and calls forwarded here that it answered as owner (ForwardedCalls). */
  forwarded = 0;
  served = 0;
  readonly fallbacks: Record<FallbackReason, number> = { unreachable: 0, backing_off: 0 };

  constructor(
    /** This sidecar's registered instance id and address. */
    readonly self: Member,
    private readonly members: Resolver,
    private readonly pools: EndpointPools,
    private readonly observer: Observer,
    private readonly logger: Logger,
    /** mTLS to the peers (this sidecar's certificate, peers checked by their SPIFFE ID); null: cleartext. */
    private readonly peerTls: ClientTls | null = null,
  ) {
    this.ring = new Rendezvous([self]);
  }

  /** This sidecar's certificate was renewed: new connections to peers present the new one. */
  setCertificate(certificate: LoadedCertificate): void {
    if (this.peerTls === null) return;
    Object.assign(this.peerTls, secureContextOf(certificate));
  }

  start(): void {
    this.members.start((resolution) => this.update(resolution));
  }

  stop(): void {
    this.members.stop();
    this.peers.clear();
    this.pools.destroy();
  }

  /** Members seen, this sidecar included. */
  get size(): number {
    return this.ring.size;
  }

  /** The members by id, for the admin views. */
  memberList(): Member[] {
    return [this.self, ...[...this.peers.values()].map((p) => p.member)];
  }

  /** Who owns `key`: this sidecar, or a peer (the call then goes there). */
  ownerOf(key: string): Member | null {
    return this.ring.owner(key);
  }

  /** The peer to forward a flight for `key` to; null to make the call here (this sidecar owns it, or its owner is backing off). */
  peerFor(key: string): Peer | null {
    const owner = this.ring.owner(key);
    if (owner === null || owner.id === this.self.id) return null;
    const until = this.backoff.get(owner.id);
    if (until !== undefined) {
      if (performance.now() < until) {
        this.fallbacks.backing_off++;
        return null;
      }
      this.backoff.delete(owner.id);
    }
    return this.peers.get(owner.id) ?? null;
  }

  /** A forwarded call failed before any of its answer reached a caller: made here instead, and the peer backs off. */
  fellBack(peer: Peer, reason: string): void {
    this.fallbacks.unreachable++;
    const id = peer.member.id;
    if (this.backoff.has(id)) return;
    this.backoff.set(id, performance.now() + PEER_BACKOFF_MS);
    // Once per incident: the back-off holds further forwards, so further failures are not logged.
    this.logger.warn({ peer: id, address: peer.member.address, err: reason, backoffMs: PEER_BACKOFF_MS }, 'fleet: owner unreachable; calling the backend here');
  }

  private update({ endpoints }: Resolution): void {
    const members: Member[] = endpoints.filter((e) => e.id !== this.self.id).map((e) => ({ id: e.id, address: e.address }));
    const ids = new Set(members.map((m) => m.id));
    for (const [id, peer] of this.peers) {
      if (ids.has(id)) continue;
      // A member that left: its flights here finish; its connection drains.
      this.peers.delete(id);
      this.backoff.delete(id);
      this.pools.release(peer.member.address, this.peerTls);
    }
    for (const member of members) {
      if (this.peers.has(member.id)) continue;
      const upstream = new PeerUpstream(member, this.pools.acquire(member.address, this.peerTls));
      const origin = new RetryingOrigin(upstream, PEER_POLICY, this.observer);
      this.peers.set(member.id, { member, origin });
    }
    this.ring = new Rendezvous([this.self, ...members]);
    this.logger.info({ members: this.ring.size, peers: members.map((m) => m.id) }, 'fleet members changed');
  }
}
