import { ScalarType, fromBinary, fromJson, toBinary, toJson, type DescField, type DescMessage, type DescMethod, type JsonObject, type JsonValue, type Registry } from '@bufbuild/protobuf';
import type { JsonAnswerSpec } from './http-spec.js';
import { GrpcError, Status } from '../wire/status.js';

/** Where a request's fields come from besides the path: google.api.http's `body`. */
export type BodyRule = '*' | string | null;

/** A request that cannot become the method's message; the gateway answers 400 with this text. */
export class BadRequest extends GrpcError {
  constructor(message: string) {
    super(Status.INVALID_ARGUMENT, message);
  }
}

/**
 * The fields along a dotted path (proto or JSON names), each but the last a singular
 * message field; null when a segment is not a field there. Every name a client sends
 * (query parameters, path variables) goes through this before anything is set, so no
 * client string is ever used as a key that is not a field of the message.
 */
function fieldPath(message: DescMessage, path: string): DescField[] | null {
  const fields: DescField[] = [];
  let at: DescMessage | undefined = message;
  for (const name of path.split('.')) {
    if (at === undefined) return null;
    const field: DescField | undefined = at.fields.find((f) => f.name === name || f.jsonName === name);
    if (field === undefined) return null;
    fields.push(field);
    at = field.fieldKind === 'message' ? field.message : undefined;
  }
  return fields;
}

/** The field at a dotted path (proto or JSON names), or undefined. */
export function fieldAt(message: DescMessage, path: string): DescField | undefined {
  return fieldPath(message, path)?.at(-1);
}

/**
 * Sets `value` at a field path of a JSON object, under each field's JSON name, making
 * prototype-free objects on the way: an own property is only ever read back, so nothing
 * reaches a prototype whatever the request held.
 */
function setField(target: JsonObject, fields: readonly DescField[], value: JsonValue): void {
  let at: JsonObject = target;
  for (let i = 0; i < fields.length - 1; i++) {
    const key = fields[i]!.jsonName;
    const next = Object.hasOwn(at, key) ? at[key] : undefined;
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) at[key] = Object.create(null) as JsonObject;
    at = at[key] as JsonObject;
  }
  at[fields.at(-1)!.jsonName] = value;
}

/** The fields of `path` in the request message, or a BadRequest naming it. */
function requestField(message: DescMessage, path: string, what: string): DescField[] {
  const fields = fieldPath(message, path);
  if (fields === null) throw new BadRequest(`${what} '${path}' is not a field of ${message.typeName}`);
  return fields;
}

/**
 * A path variable or query parameter as JSON for its field: text, which the canonical
 * mapping reads for every scalar (numbers, int64, enums by name, bytes, Timestamps),
 * except booleans, which it wants as JSON true or false.
 */
function fromText(field: DescField, text: string): JsonValue {
  const bool = (field.fieldKind === 'scalar' || field.fieldKind === 'list') && field.scalar === ScalarType.BOOL;
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
  // Keyed by what the client sent: no prototype to reach through a key such as __proto__.
  const json = Object.create(null) as JsonObject;
  if (rule === '*' && body !== undefined) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('the request body must be a JSON object');
    for (const key of Object.keys(body)) json[key] = body[key]!;
  } else if (rule !== null && body !== undefined) {
    setField(json, requestField(method.input, rule, 'body'), body);
  }
  const input = method.input;
  for (const name of new Set(query.keys())) {
    const fields = requestField(input, name, 'query parameter');
    const field = fields.at(-1)!;
    const values = query.getAll(name).map((v) => fromText(field, v));
    setField(json, fields, values.length === 1 && field.fieldKind !== 'list' ? values[0]! : values);
  }
  for (const [path, value] of variables) {
    const fields = requestField(input, path, 'path variable');
    setField(json, fields, fromText(fields.at(-1)!, value));
  }
  try {
    return toBinary(method.input, fromJson(method.input, json, { registry }));
  } catch (err) {
    throw new BadRequest((err as Error).message);
  }
}

const CANONICAL: JsonAnswerSpec = { useProtoNames: false, emitUnpopulated: false };

/** A response message as proto3 JSON; with google.api.http's response_body, only that field. */
export function responseJson(method: DescMethod, registry: Registry, bytes: Uint8Array, responseBody: string | null = null, options: JsonAnswerSpec = CANONICAL): JsonValue {
  const json = toJson(method.output, fromBinary(method.output, bytes), {
    registry,
    alwaysEmitImplicit: options.emitUnpopulated || responseBody !== null,
    useProtoFieldName: options.useProtoNames,
  });
  if (responseBody === null) return json;
  const field = method.output.fields.find((f) => f.name === responseBody)!;
  return (json as JsonObject)[options.useProtoNames ? field.name : field.jsonName] ?? null;
}
