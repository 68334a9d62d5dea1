import { closest } from '../names/closest.js';

/** Prefixes of corral's variables: an unknown one with such a prefix is likely a typo. */
export const OUR_PREFIXES = ['ADMIN_', 'HTTP_', 'REGISTRY_', 'COLLAPSER_', 'BACKEND_', 'RETRY_', 'SHUTDOWN_', 'EJECTION_', 'CORRAL_', 'METRICS_', 'LISTEN_', 'JWT_', 'TLS_'];
/** Read by others than loadConfig: bin/corral, and MyGateway's name for GRPC_PORT. */
export const ALSO_OURS = ['CORRAL_V8_FLAGS', 'CORRAL_NODE', 'SERVICE_PORT_GRPC'];

/** Other software's variables that start like corral's: never a typo of ours. */
const FOREIGN = new Set(['HTTP_PROXY', 'HTTP_PROXY_USER', 'HTTP_PROXY_PASSWORD']);
/**
 * What Kubernetes sets for every Service in the namespace (service links):
 * {NAME}_SERVICE_HOST, {NAME}_SERVICE_PORT[_{PORT_NAME}], {NAME}_PORT and
 * {NAME}_PORT_{port}_{TCP|UDP|SCTP}[_PROTO|_PORT|_ADDR], for Services named backend,
 * corral, metrics...
 */
const SERVICE_LINK = /_SERVICE_(HOST|PORT)(_[A-Z0-9_]+)?$|_PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?$/;
/** How close (edits) an unknown name must be to one of corral's to be taken for a typo of it. */
const TYPO_DISTANCE = 2;

/**
 * Variables with one of corral's prefixes that corral does not read. One within two edits
 * of a known name is a typo (COLLAPSER_SKIP_METHOD for COLLAPSER_SKIP_METHODS): an error,
 * since a mistyped safety setting would silently do nothing, as nginx -t and Envoy refuse
 * unknown directives and fields. Any other is a warning at most: corral shares its
 * environment with other software, and Kubernetes' service links and proxy settings are
 * never reported.
 */
export function unknownVariables(env: NodeJS.ProcessEnv, known: readonly string[]): { typos: string[]; warnings: string[] } {
  const typos: string[] = [];
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (known.includes(name) || !OUR_PREFIXES.some((p) => name.startsWith(p))) continue;
    if (FOREIGN.has(name) || SERVICE_LINK.test(name)) continue;
    const near = closest(name, known)!;
    if (near.distance <= TYPO_DISTANCE) typos.push(`unknown variable ${name}: did you mean ${near.name}?`);
    else warnings.push(`unknown variable ${name}: corral does not read it`);
  }
  return { typos, warnings };
}

/** The port variables Kubernetes would also set, as tcp://ip:port, for a Service of that name. */
const PORT_VARIABLES = ['GRPC_PORT', 'METRICS_PORT', 'ADMIN_PORT', 'HTTP_PORT'];

/** A port variable holding tcp://... is a Kubernetes service link that took corral's name: say so. */
export function serviceLinkCollisions(env: NodeJS.ProcessEnv): string[] {
  return PORT_VARIABLES.filter((name) => /^(tcp|udp|sctp):\/\//i.test(env[name]?.trim() ?? '')).map(
    (name) =>
      `${name}='${env[name]}' is a Kubernetes service link, not a port: Kubernetes sets it for a Service named '${name.slice(0, -'_PORT'.length).toLowerCase()}' in the namespace. Set enableServiceLinks: false in the pod spec (corral's manifests do), or set ${name} yourself`,
  );
}
