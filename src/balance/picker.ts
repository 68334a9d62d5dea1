import type { Metadata } from '../call/call.js';
import type { Endpoint } from '../discovery/endpoint.js';
import { GrpcError, Status } from '../wire/status.js';

/**
 * Chooses the endpoint for one call, synchronously and without I/O, as grpc-js's
 * pickers do. A new picker is built whenever the cluster's endpoints change; a picker
 * that cannot choose throws a GrpcError.
 */
export interface Picker {
  pick(headers: Metadata): Endpoint;
}

/** The picker of a cluster with no endpoints; the error is worded as MyGateway words it. */
export const EMPTY_PICKER: Picker = {
  pick(): Endpoint {
    throw new GrpcError(Status.RESOURCE_EXHAUSTED, 'all instances are busy');
  },
};
