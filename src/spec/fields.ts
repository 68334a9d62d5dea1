import { z } from 'zod';

/** Field schemas shared by the topology and the cluster and balancer types; each error says what was expected. */
/** host:port, a bracketed IPv6 literal or a name/IPv4 before the colon; groups: host, port. */
export const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

export const hostPort = z.string().regex(HOST_PORT, 'expected host:port, e.g. 10.0.0.7:5001 or myauth:5001');
export const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
export const millis = (min: number) => z.number().int().min(min, `expected a whole number of milliseconds, at least ${min}`);
export const metadataName = z
  .string()
  .regex(/^[0-9a-z_.-]+$/, 'expected a metadata name in lower case (letters, digits, _ . -)');

/**
 * The schema of a registry of types (clusters, balancers): one of their schemas, told
 * apart by `type`, with an error that lists the types there are.
 */
export function typeUnion<Spec>(types: Record<string, { schema: z.ZodType }>): z.ZodType<Spec> {
  const names = Object.keys(types);
  return z.discriminatedUnion('type', Object.values(types).map((t) => t.schema) as never, {
    error: `expected type ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`,
  }) as unknown as z.ZodType<Spec>;
}

/** A field path of a request message, as COLLAPSER_KEY_IGNORE_FIELDS and key_ignore_fields write it: request_id, trace.span_id. */
export const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
