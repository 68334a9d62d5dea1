import type { Observer } from '../call/observer.js';
import { EndpointPools, type EndpointPoolOptions } from '../cluster/endpoint-pools.js';
import type { Config } from '../config/config.js';
import { EtcdResolver } from '../discovery/etcd.js';
import { Fleet } from '../fleet/fleet.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../observe/metrics.js';
import type { RegistryAgent } from '../registry/agent.js';
import { samePeerIdentity } from '../tls/client-certificate.js';
import type { ClientTls } from '../tls/client-tls.js';
import { secureContextOf } from '../tls/certificate-files.js';
import type { ServerTls } from '../tls/server-tls.js';

/**
 * How quickly a peer that stops answering (a frozen process, a cut network) is noticed: a
 * PING every half second on a connection carrying forwarded calls, given up after another
 * half second. Its calls then fall back to the local backend.
 */
const PEER_KEEPALIVE = { keepaliveTimeMs: 500, keepaliveTimeoutMs: 500 };

/** The fleet of COLLAPSER_FLEET=on: members from the registry, peer connections, metrics. Null when off. */
export function fleetOf(
  config: Config,
  agent: RegistryAgent | null,
  parts: { metrics: Metrics; observer: Observer; logger: Logger; poolOptions: EndpointPoolOptions },
  tls: ServerTls | null,
): Fleet | null {
  const registry = config.registry;
  if (!config.collapser.fleet || registry === null || agent === null) return null;
  const peerTls = tls === null ? null : peersOverTls(tls, config.tls!.fleetPeerId!);
  const pools = new EndpointPools({ ...parts.poolOptions, ...PEER_KEEPALIVE, role: 'fleet peer' }, parts.logger);
  const members = new EtcdResolver({ endpoints: registry.endpoints, service: registry.service, prefix: registry.prefix, tls: registry.tls }, parts.logger);
  const fleet = new Fleet({ id: agent.instanceId, address: registry.address }, members, pools, parts.observer, parts.logger, peerTls);
  const { metrics } = parts;
  metrics.gaugeFrom('corral_fleet_members', 'Members of the fleet this corral sees, itself included (COLLAPSER_FLEET)', () => fleet.size);
  metrics.counterFrom('corral_fleet_forwarded_total', "Flights this corral sent to the key's owner in the fleet", () => fleet.forwarded);
  metrics.counterFrom('corral_fleet_served_total', 'Calls other members forwarded to this corral as the owner of their key, however it answered them (its cache, a flight under way, or a flight of its own)', () => fleet.served);
  metrics.labelledCounterFrom(
    'corral_fleet_fallbacks_total',
    "Flights made here although another member owns the key: the owner failed before answering (unreachable), or had failed a moment before (backing_off)",
    ['reason'],
    () => Object.entries(fleet.fallbacks).map(([reason, n]) => [{ reason }, n] as const),
  );
  return fleet;
}

/**
 * Over TLS, the sidecars of a fleet call each other with mTLS: each presents its own
 * certificate and accepts a peer whose certificate chains to TLS_CLIENT_CA_FILE and carries
 * COLLAPSER_FLEET_PEER_ID (checked at start to be this sidecar's own). An owner keeps a
 * forwarded call's x-forwarded-client-cert, the original client's, only from such a peer.
 */
function peersOverTls(tls: ServerTls, peerId: string): ClientTls {
  tls.identities.fleetPeer = peerId;
  return { ...secureContextOf(tls.certificate), serverName: undefined, id: 'fleet-peers', checkServerIdentity: samePeerIdentity(peerId) };
}
