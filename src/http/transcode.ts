import { ScalarType, fromBinary, fromJson, toBinary, toJson, type DescField, type DescMessage, type DescMethod, type JsonObject, type JsonValue, type Registry } from '@bufbuild/protobuf';
import { GrpcError, Status } from '../wire/status.js';

/** Where a request's fields come from besides the path: google.api.http's `body`. */
export type BodyRule = '*' | string | null;

/** A request that cannot become the method's message; the gateway answers 400 with this text. */
export class BadRequest extends GrpcError {
  constructor(message: string) {
    super(Status.INVALID_ARGUMENT, message);
  }
}

/** Sets `value` at a dotted field path of a JSON object, making the objects on the way. */
function setPath(target: JsonObject, path: string, value: JsonValue): void {
  const names = path.split('.');
  let at: JsonObject = target;
  for (const name of names.slice(0, -1)) {
    const next = at[name];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) at[name] = {};
    at = at[name] as JsonObject;
  }
  at[names.at(-1)!] = value;
}

/** The field at a dotted path (proto or JSON names), or undefined. */
export function fieldAt(message: DescMessage, path: string): DescField | undefined {
  let at: DescMessage | undefined = message;
  let field: DescField | undefined;
  for (const name of path.split('.')) {
    field = at?.fields.find((f) => f.name === name || f.jsonName === name);
    if (field === undefined) return undefined;
    at = field.fieldKind === 'message' ? field.message : undefined;
  }
  return field;
}

/**
 * A path variable or query parameter as JSON for its field: text, which the canonical
 * mapping reads for every scalar (numbers, int64, enums by name, bytes, Timestamps),
 * except booleans, which it wants as JSON true or false.
 */
function fromText(message: DescMessage, path: string, text: string): JsonValue {
  const field = fieldAt(message, path);
  const bool = field !== undefined && (field.fieldKind === 'scalar' || field.fieldKind === 'list') && field.scalar === ScalarType.BOOL;
  if (bool && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

/**
 * The request message of `method`, in proto3's canonical JSON mapping, from an HTTP
 * request: the body (all of it with body "*", or one field), then path variables and
 * query parameters by field path (google.api.http's rules; a repeated query parameter
 * fills a repeated field). Unknown fields are refused, naming the field.
 */
export function requestMessage(
  method: DescMethod,
  registry: Registry,
  variables: ReadonlyMap<string, string>,
  query: URLSearchParams,
  body: JsonValue | undefined,
  rule: BodyRule,
): Uint8Array {
  const json: JsonObject = {};
  if (rule === '*' && body !== undefined) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('the request body must be a JSON object');
    Object.assign(json, body);
  } else if (rule !== null && body !== undefined) {
    setPath(json, rule, body);
  }
  const input = method.input;
  for (const name of new Set(query.keys())) {
    const values = query.getAll(name).map((v) => fromText(input, name, v));
    const field = fieldAt(input, name);
    setPath(json, name, values.length === 1 && field?.fieldKind !== 'list' ? values[0]! : values);
  }
  for (const [path, value] of variables) setPath(json, path, fromText(input, path, value));
  try {
    return toBinary(method.input, fromJson(method.input, json, { registry }));
  } catch (err) {
    throw new BadRequest((err as Error).message);
  }
}

/** A response message as canonical proto3 JSON; with google.api.http's response_body, only that field. */
export function responseJson(method: DescMethod, registry: Registry, bytes: Uint8Array, responseBody: string | null = null): JsonValue {
  const json = toJson(method.output, fromBinary(method.output, bytes), { registry, alwaysEmitImplicit: responseBody !== null });
  if (responseBody === null) return json;
  const field = method.output.fields.find((f) => f.name === responseBody)!;
  return (json as JsonObject)[field.jsonName] ?? null;
}
