import type { Metadata } from './call.js';

/**
 * Metadata names corral owns: only corral sets them (the fleet's hop mark, corral-fleet-hop),
 * so whatever a client sends under them is dropped at the fronts, never forwarded and never
 * believed.
 */
export const OWN_METADATA_PREFIX = 'corral-';

/**
 * Drops every corral-* name a client sent, but `keep` (the hop mark from a fleet peer).
 * `names` lists the names sent (node's raw field list, names and values in turn), so the
 * metadata object is not walked a second time per call (for-in allocates its key list).
 */
export function dropOwnMetadata(headers: Metadata, names: readonly string[], keep: string | null): void {
  for (let i = 0; i < names.length; i += 2) {
    const name = names[i]!;
    if (name.charCodeAt(0) === 0x63 /* 'c' */ && name.startsWith(OWN_METADATA_PREFIX) && name !== keep) delete headers[name];
  }
}
