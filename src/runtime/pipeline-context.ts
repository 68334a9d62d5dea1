import { CacheAdmission } from '../collapse/cache-admission.js';
import { TokenVerifier } from '../auth/token-verifier.js';
import type { Observer } from '../call/observer.js';
import type { EndpointPools } from '../cluster/endpoint-pools.js';
import type { ResponseStore } from '../collapse/store.js';
import type { OutageCover } from '../collapse/outage-cover.js';
import type { PurgeLog } from '../collapse/purge-log.js';
import { MethodSet } from '../collapse/method-set.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { LearnedDescriptors } from '../reflection/learned-reads.js';
import type { Origin } from '../upstream/origin.js';
import type { Fleet } from '../fleet/fleet.js';
import type { PipelineContext } from './pipeline.js';
import type { Invalidation } from '../collapse/invalidate.js';
import { Admissions } from '../admission/admissions.js';

/** What every generation's pipeline shares, from the Config and the process-wide parts. */
export function pipelineContext(
  config: Config,
  parts: {
    pools: EndpointPools;
    cache: ResponseStore | null;
    logger: Logger;
    observer: Observer;
    learned: LearnedDescriptors | null;
    wrapOrigin: ((origin: Origin) => Origin) | null;
    fleet: Fleet | null;
    writes: Invalidation | null;
    outageCover: OutageCover | null;
    purges: PurgeLog | null;
  },
): PipelineContext {
  const { collapser, jwtSecret, jwtClaims, concurrency } = config;
  return {
    ...parts,
    admissions: new Admissions(concurrency.limit, { queueTimeoutMs: concurrency.queueTimeoutMs }, parts.observer),
    fairness: concurrency.fairBy === null ? null : { by: concurrency.fairBy, clientCertificates: config.tls?.clientCertificates ?? false },
    verifier: jwtSecret === undefined ? null : new TokenVerifier({ secret: jwtSecret, ...jwtClaims }),
    bearerVerifier: jwtSecret === undefined ? null : new TokenVerifier({ secret: jwtSecret, ...jwtClaims, requireSession: false }),
    ejection: config.ejection,
    etcdTls: config.etcdTls,
    retry: config.retry,
    methods: {
      only: collapser.onlyMethods === undefined ? null : new MethodSet(collapser.onlyMethods),
      skip: collapser.skipMethods === undefined ? null : new MethodSet(collapser.skipMethods),
    },
    defaults: {
      timeoutMs: config.backend.timeoutMs,
      cacheTtlMs: collapser.cacheTtlMs,
      cachePolicy: collapser.cachePolicy,
      maxWaitMs: collapser.maxWaitMs,
      admission: collapser.cacheMinUses > 1 ? new CacheAdmission(collapser.cacheMinUses) : null,
      keyMetadata: collapser.keyMetadata,
      keyIgnoreFields: collapser.keyIgnoreFields,
      maxResponseBytes: collapser.maxResponseBytes,
      maxFollowers: collapser.maxFollowers,
      readYourWrites: collapser.readYourWrites,
      streamJoins: collapser.streamJoins,
    },
  };
}
