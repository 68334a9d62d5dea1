import { describe, expect, it } from 'vitest';
import { httpError } from '../../src/http/http-errors.js';
import { Status } from '../../src/wire/status.js';

describe('gRPC codes as HTTP statuses', () => {
  it("uses MyGateway's table, then grpc-gateway's for the codes it does not list", () => {
    const table = Object.fromEntries(
      Object.entries(Status).map(([name, code]) => {
        const { status, body } = httpError(code, 'm');
        return [name, `${status} ${body.code}`];
      }),
    );
    expect(table).toEqual({
      OK: '500 INTERNAL_ERROR',
      CANCELLED: '499 CANCELLED',
      UNKNOWN: '500 INTERNAL_ERROR',
      INVALID_ARGUMENT: '400 INVALID_ARGUMENT',
      DEADLINE_EXCEEDED: '504 TIMEOUT',
      NOT_FOUND: '404 NOT_FOUND',
      ALREADY_EXISTS: '409 ALREADY_EXISTS',
      PERMISSION_DENIED: '403 PERMISSION_DENIED',
      RESOURCE_EXHAUSTED: '429 RESOURCE_EXHAUSTED',
      FAILED_PRECONDITION: '400 FAILED_PRECONDITION',
      ABORTED: '409 ABORTED',
      OUT_OF_RANGE: '400 OUT_OF_RANGE',
      UNIMPLEMENTED: '501 UNIMPLEMENTED',
      INTERNAL: '500 INTERNAL_ERROR',
      UNAVAILABLE: '503 SERVICE_UNAVAILABLE',
      DATA_LOSS: '500 INTERNAL_ERROR',
      UNAUTHENTICATED: '401 UNAUTHENTICATED',
    });
    expect(httpError(Status.NOT_FOUND, 'no order 7').body).toEqual({ code: 'NOT_FOUND', message: 'no order 7', grpc_code: 5 });
  });
});
