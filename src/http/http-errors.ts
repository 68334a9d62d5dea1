import { Status } from '../wire/status.js';

/**
 * HTTP statuses for gRPC codes: MyGateway's table, then grpc-gateway's for the codes it
 * does not list. The error body's `code` is MyGateway's word for it.
 */
const TABLE: Record<number, [http: number, code: string]> = {
  [Status.NOT_FOUND]: [404, 'NOT_FOUND'],
  [Status.ALREADY_EXISTS]: [409, 'ALREADY_EXISTS'],
  [Status.PERMISSION_DENIED]: [403, 'PERMISSION_DENIED'],
  [Status.UNAUTHENTICATED]: [401, 'UNAUTHENTICATED'],
  [Status.INVALID_ARGUMENT]: [400, 'INVALID_ARGUMENT'],
  [Status.UNAVAILABLE]: [503, 'SERVICE_UNAVAILABLE'],
  [Status.DEADLINE_EXCEEDED]: [504, 'TIMEOUT'],
  [Status.RESOURCE_EXHAUSTED]: [429, 'RESOURCE_EXHAUSTED'],
  [Status.UNIMPLEMENTED]: [501, 'UNIMPLEMENTED'],
  [Status.FAILED_PRECONDITION]: [400, 'FAILED_PRECONDITION'],
  [Status.ABORTED]: [409, 'ABORTED'],
  [Status.CANCELLED]: [499, 'CANCELLED'],
  [Status.OUT_OF_RANGE]: [400, 'OUT_OF_RANGE'],
};

/** The HTTP status and error body for a gRPC status. */
export function httpError(grpcCode: number, message: string): { status: number; body: { code: string; message: string; grpc_code: number } } {
  const [status, code] = TABLE[grpcCode] ?? [500, 'INTERNAL_ERROR'];
  return { status, body: { code, message, grpc_code: grpcCode } };
}

/** The HTTP status a call ending with `grpcCode` is answered with: 200 for OK. */
export function httpStatusOf(grpcCode: number): number {
  return grpcCode === Status.OK ? 200 : (TABLE[grpcCode]?.[0] ?? 500);
}
