import type { Call, Downstream, Handler } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import { GrpcError, Status } from '../wire/status.js';
import { setIdentity, stripIdentity } from './identity.js';
import type { TokenVerifier } from './token-verifier.js';

const MISSING = new GrpcError(Status.UNAUTHENTICATED, 'missing bearer token: send Authorization: Bearer <JWT>');
const INVALID = new GrpcError(Status.UNAUTHENTICATED, 'invalid or expired token');
const BEARER = /^bearer\s+(\S+)$/i;

/**
 * The stage of an HTTP route with `auth_required: true`: an `Authorization: Bearer` JWT
 * checked with JWT_SECRET (the same verifier as the gRPC routes; HTTP routes have no
 * session-id). A call that passes carries the verified identity (x-user-id, x-user-email)
 * into the key and to the backend, in place of anything the client sent under those names.
 */
export class BearerAuthenticate implements Handler {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly next: Handler,
    private readonly observer: Observer,
  ) {}

  handle(call: Call, downstream: Downstream): void {
    const authorization = call.metadata.authorization;
    const token = typeof authorization === 'string' ? BEARER.exec(authorization)?.[1] : undefined;
    if (token === undefined) {
      this.observer.authFailed('missing_session');
      stripIdentity(call.metadata);
      downstream.onError(MISSING);
      return;
    }
    const claims = this.verifier.claims(token);
    if (claims === null) {
      this.observer.authFailed('invalid_token');
      downstream.onError(INVALID);
      return;
    }
    setIdentity(call.metadata, claims);
    this.next.handle(call, downstream);
  }
}
