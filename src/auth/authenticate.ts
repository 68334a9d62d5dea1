import type { Call, Downstream, Handler } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import { GrpcError, Status } from '../wire/status.js';
import { SESSION_HEADER, setIdentity } from './identity.js';
import type { TokenVerifier } from './token-verifier.js';

/** MyGateway's answers, word for word, so its clients keep working. */
const MISSING_SESSION = new GrpcError(Status.UNAUTHENTICATED, 'missing session-id');
const INVALID_TOKEN = new GrpcError(Status.UNAUTHENTICATED, 'missing or invalid token');

const BEARER = /^bearer\s+/i;

/**
 * The stage of a route with `authorization: required`, in front of its collapser: a call
 * needs `session-id` metadata and an `authorization` token (with or without `Bearer `)
 * whose `session_id` claim equals it. A call that fails never reaches the collapser, so
 * it can neither lead nor join a flight. One that passes carries its verified identity
 * (x-user-id, x-user-email) on to the key and the backend, in place of anything the
 * client sent under those names.
 */
export class Authenticate implements Handler {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly next: Handler,
    private readonly observer: Observer,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    const headers = call.metadata;
    // Sent more than once counts as missing: the backend might read another value than the one checked.
    const session = headers[SESSION_HEADER];
    if (typeof session !== 'string' || session === '') {
      this.observer.authFailed('missing_session');
      downstream.onError(MISSING_SESSION);
      return;
    }
    const authorization = headers.authorization;
    const claims = typeof authorization !== 'string' ? null : this.verifier.claims(authorization.replace(BEARER, ''));
    if (claims === null || claims.sessionId !== session) {
      this.observer.authFailed('invalid_token');
      downstream.onError(INVALID_TOKEN);
      return;
    }
    setIdentity(headers, claims);
    this.next.handle(call, downstream);
  }
}
