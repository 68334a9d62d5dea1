import { GrpcError, Status } from './status.js';

/** gRFC A6's server pushback: how long a client with a retry policy waits before it tries again. */
export const RETRY_PUSHBACK = 'grpc-retry-pushback-ms';

/**
 * A call corral did not send to a backend that has all the calls it can take: UNAVAILABLE,
 * which clients retry, with how long to wait first (grpc-retry-pushback-ms over gRPC,
 * Retry-After over HTTP).
 */
export class Shed extends GrpcError {
  constructor(
    message: string,
    readonly pushbackMs: number,
  ) {
    super(Status.UNAVAILABLE, message);
  }
}
