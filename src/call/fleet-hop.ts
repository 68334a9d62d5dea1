/**
 * The mark of a call one corral of a fleet forwarded to another: its value is the sender's
 * instance id. Whoever receives a marked call serves it locally, whatever its own member
 * list says, so a call makes at most one hop (sidecars whose lists disagree never pass a
 * key back and forth). It is not part of the key and never reaches the backend. With the
 * fleet off it is dropped at the front; over mTLS a mark counts only from a peer (a
 * certificate with COLLAPSER_FLEET_PEER_ID); a client that sets it gains nothing but a
 * local call.
 */
export const FLEET_HOP = 'corral-fleet-hop';
