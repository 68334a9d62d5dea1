import type { Metadata } from './call.js';

/**
 * Metadata names corral owns: only corral sets them (the fleet's hop mark, corral-fleet-hop),
 * so whatever a client sends under them is dropped at the fronts, never forwarded and never
 * believed.
 */
export const OWN_METADATA_PREFIX = 'corral-';

/** Drops every corral-* name a client sent, but `keep` (the hop mark from a fleet peer). */
export function dropOwnMetadata(headers: Metadata, keep: string | null): void {
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x63 /* 'c' */ && name.startsWith(OWN_METADATA_PREFIX) && name !== keep) delete headers[name];
  }
}
