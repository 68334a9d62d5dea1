/**
 * The mark of a call one corral of a fleet forwarded to another: its value is the sender's
 * instance id. Whoever receives a marked call serves it locally, whatever its own member
 * list says, so a call makes at most one hop (sidecars whose lists disagree never pass a
 * key back and forth). It is not part of the key and never reaches the backend. Over mTLS a
 * mark counts only from a peer (the same SPIFFE ID as the receiver); a client that sets it
 * gains nothing but a local call.
 */
export const FLEET_HOP = 'corral-fleet-hop';
