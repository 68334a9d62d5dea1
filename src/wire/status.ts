import { percentDecoded, percentEncoded } from './percent-encoding.js';

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

const NAMES: readonly string[] = Object.keys(Status);

/** A status code's name, as metrics label it (OK, NOT_FOUND, ...); a code outside the spec is UNKNOWN, as gRPC reads it. */
export function statusName(code: number): string {
  return NAMES[code] ?? 'UNKNOWN';
}

/** A status code from a grpc-status value; an unreadable one is UNKNOWN. */
export function statusCode(value: unknown): number {
  const code = Number(value);
  return Number.isInteger(code) && code >= 0 && code <= 16 ? code : Status.UNKNOWN;
}

/** grpc-message as text: percent-decoded (its bytes are UTF-8); kept as sent when it does not decode. */
export function decodeGrpcMessage(value: unknown): string {
  return value === undefined ? '' : percentDecoded(String(value));
}

/**
 * Every failure corral produces itself is one of these: a gRPC code the caller can
 * act on and a message that says what went wrong and, where it helps, what to change.
 */
export class GrpcError extends Error {
  readonly code: StatusCode;

  constructor(code: StatusCode, message: string) {
    super(message);
    this.name = 'GrpcError';
    this.code = code;
  }
}

/**
 * How gRPC maps an HTTP/2 RST_STREAM error code to a status
 * (PROTOCOL-HTTP2.md, "Errors"). Anything unlisted is INTERNAL.
 */
export function statusFromRstCode(rstCode: number): StatusCode {
  switch (rstCode) {
    case 0x7: // REFUSED_STREAM: the peer did not process it, safe to retry
      return Status.UNAVAILABLE;
    case 0x8: // CANCEL
      return Status.CANCELLED;
    case 0xb: // ENHANCE_YOUR_CALM
      return Status.RESOURCE_EXHAUSTED;
    case 0xc: // INADEQUATE_SECURITY
      return Status.PERMISSION_DENIED;
    default:
      return Status.INTERNAL;
  }
}

/** grpc-message is percent-encoded: every byte outside printable ASCII, and '%' itself. */
export function encodeGrpcMessage(message: string): string {
  return percentEncoded(message);
}
