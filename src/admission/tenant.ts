import type { Metadata } from '../call/call.js';
import { firstValue } from '../wire/metadata.js';

/** Longer values are cut: a tenant is a name, and the queue keeps one list per tenant waiting. */
const MAX_TENANT_CHARS = 256;

/** Whose a call is, for sharing a cluster's slots (BACKEND_CONCURRENCY_FAIR_BY). */
export type TenantOf = (metadata: Metadata) => string;

/** Who corral has verified a caller to be, if anyone: the metadata that then carries it. */
export interface VerifiedIdentity {
  /** Metadata corral sets from a verified token (x-user-id), on routes that check tokens; null when none does. */
  user: string | null;
  /** Metadata corral sets from a verified client certificate (x-forwarded-client-cert); null without mTLS. */
  certificate: string | null;
}

/**
 * The tenant of a call: the value of the metadata named by BACKEND_CONCURRENCY_FAIR_BY,
 * or with `identity`, the verified user, else the verified client certificate. A call
 * without one shares the '' tenant with every other such call.
 */
export function tenantOf(fairBy: string, identity: VerifiedIdentity): TenantOf {
  if (fairBy !== 'identity') return (metadata) => cut(firstValue(metadata[fairBy]));
  const { user, certificate } = identity;
  return (metadata) => cut(firstValue(user === null ? undefined : metadata[user]) ?? firstValue(certificate === null ? undefined : metadata[certificate]));
}

function cut(value: string | undefined): string {
  return value === undefined ? '' : value.length > MAX_TENANT_CHARS ? value.slice(0, MAX_TENANT_CHARS) : value;
}
