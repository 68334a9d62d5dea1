import type { Metadata } from '../call/call.js';
import type { Call, Downstream, Handler } from '../call/call.js';
import type { Claims } from './token-verifier.js';
import { percentEncoded } from '../wire/percent-encoding.js';

/**
 * Metadata through which corral tells a backend who the verified caller is. A backend
 * behind corral may trust it only because corral strips whatever a client sent under
 * these names, on every route, whenever any route authenticates.
 */
export const USER_ID_HEADER = 'x-user-id';
export const USER_EMAIL_HEADER = 'x-user-email';
export const SESSION_HEADER = 'session-id';

/** What identifies a verified caller: always in the collapse key of an authenticated route. */
export const IDENTITY_METADATA: readonly string[] = [SESSION_HEADER, USER_ID_HEADER, USER_EMAIL_HEADER];

/** Removes identity metadata the client sent itself. */
export function stripIdentity(headers: Metadata): void {
  if (headers[USER_ID_HEADER] !== undefined) delete headers[USER_ID_HEADER];
  if (headers[USER_EMAIL_HEADER] !== undefined) delete headers[USER_EMAIL_HEADER];
}

/**
 * Replaces identity metadata with what a verified token says, percent-encoded where it is
 * not printable ASCII (or holds '%'): sent as it is, node:http2 would keep the low byte
 * of each character and the backend would be told another user ('šdmin' as 'admin').
 */
export function setIdentity(headers: Metadata, claims: Claims): void {
  stripIdentity(headers);
  if (claims.subject !== undefined) headers[USER_ID_HEADER] = percentEncoded(claims.subject);
  if (claims.email !== undefined) headers[USER_EMAIL_HEADER] = percentEncoded(claims.email);
}

/** The stage in front of routes that do not authenticate, in a config where others do. */
export class StripIdentity implements Handler {
  constructor(private readonly next: Handler) {}

  handle(call: Call, downstream: Downstream): void {
    stripIdentity(call.metadata);
    this.next.handle(call, downstream);
  }
}
