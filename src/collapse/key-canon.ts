import { clearField, fromBinary, toBinary, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { FRAME_HEADER_BYTES } from '../wire/frame.js';

/** Where a method's request message type comes from: the descriptors (files, server reflection). */
export interface InputSource {
  /** The request message type of a described method. */
  input(method: string): DescMessage | undefined;
  /** Changes whenever what the descriptors say changes (a backend described itself anew). */
  readonly version: number;
}

/** How one method's request is made canonical for its key: the fields to leave out, and whether it has maps to sort. */
interface Plan {
  desc: DescMessage;
  /** Each ignored path as the fields to walk to it, the last one cleared. */
  ignored: DescField[][];
  maps: boolean;
}

/**
 * A field's name as a path may write it: request_id matches the field request_id, its JSON
 * name requestId, and a descriptor that carries the camel-case name (as @grpc/proto-loader
 * publishes over reflection by default).
 */
function sameName(field: DescField, written: string): boolean {
  if (field.name === written || field.jsonName === written) return true;
  return field.name.replace(/_/g, '').toLowerCase() === written.replace(/_/g, '').toLowerCase();
}

/** What a path names in a message: its fields, or why it names none. */
export function resolvePath(desc: DescMessage, path: string): DescField[] | 'absent' | 'invalid' {
  const fields: DescField[] = [];
  let message: DescMessage | undefined = desc;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const field: DescField | undefined = message?.fields.find((f) => sameName(f, parts[i]!));
    if (field === undefined) return i === 0 ? 'absent' : 'invalid';
    fields.push(field);
    const last = i === parts.length - 1;
    if (!last && (field.fieldKind !== 'message' || field.message === undefined)) return 'invalid';
    message = field.fieldKind === 'message' ? field.message : undefined;
  }
  return fields;
}

/** Whether a message, or one it holds, has a map field. */
function hasMaps(desc: DescMessage, seen = new Set<string>()): boolean {
  if (seen.has(desc.typeName)) return false;
  seen.add(desc.typeName);
  for (const field of desc.fields) {
    if (field.fieldKind === 'map') return true;
    if ((field.fieldKind === 'message' || field.fieldKind === 'list') && field.message !== undefined && hasMaps(field.message, seen)) return true;
  }
  return false;
}

/**
 * Requests keyed by what changes the answer: for a described method, the fields
 * COLLAPSER_KEY_IGNORE_FIELDS (or a route's key_ignore_fields) names are left out of the
 * key, and map entries are keyed in sorted order, so two serialisations of one request
 * (Go's marshaller randomises map order) are one key. The request is decoded and written
 * again only for methods that have such a field; every other method's key is its bytes as
 * sent, at the cost of one lookup. The backend always gets the request as it was sent.
 */
export class KeyCanon {
  private readonly plans = new Map<string, Plan | null>();
  private version = -1;

  constructor(
    private readonly source: InputSource,
    private readonly ignore: readonly string[],
  ) {}

  /** The body to key `method`'s call by: canonical when its plan says so, else `body` itself. */
  body(method: string, body: Buffer): Buffer {
    const plan = this.plan(method);
    // A compressed message (flag 1) is keyed as sent: corral does not decompress to key.
    if (plan === null || body.length < FRAME_HEADER_BYTES || body[0] !== 0) return body;
    let message: Message;
    try {
      message = fromBinary(plan.desc, body.subarray(FRAME_HEADER_BYTES));
    } catch {
      return body; // not a message of this type: keyed as sent
    }
    for (const path of plan.ignored) clearPath(message, path, 0);
    if (plan.maps) sortMaps(message as unknown as Record<string, unknown>, plan.desc);
    const canonical = toBinary(plan.desc, message);
    // A view of the bytes toBinary wrote, not a copy: the key maker reads them once.
    return Buffer.from(canonical.buffer, canonical.byteOffset, canonical.byteLength);
  }

  private plan(method: string): Plan | null {
    if (this.version !== this.source.version) {
      this.plans.clear();
      this.version = this.source.version;
    }
    let plan = this.plans.get(method);
    if (plan === undefined) {
      plan = this.makePlan(method);
      this.plans.set(method, plan);
    }
    return plan;
  }

  private makePlan(method: string): Plan | null {
    const desc = this.source.input(method);
    if (desc === undefined) return null;
    const ignored: DescField[][] = [];
    for (const path of this.ignore) {
      const fields = resolvePath(desc, path);
      if (typeof fields !== 'string') ignored.push(fields);
    }
    const maps = hasMaps(desc);
    return ignored.length === 0 && !maps ? null : { desc, ignored, maps };
  }
}

/** Clears the field at the end of `path` in `message` (in every element, through repeated messages). */
function clearPath(message: Message, path: DescField[], at: number): void {
  const field = path[at]!;
  if (at === path.length - 1) {
    clearField(message, field);
    return;
  }
  const value = (message as unknown as Record<string, unknown>)[field.localName];
  if (Array.isArray(value)) for (const m of value) clearPath(m as Message, path, at + 1);
  else if (value !== undefined && value !== null) clearPath(value as Message, path, at + 1);
}

/** Rebuilds every map of `message` (and of the messages it holds) with its keys in sorted order. */
function sortMaps(message: Record<string, unknown>, desc: DescMessage): void {
  for (const field of desc.fields) {
    const value = message[field.localName];
    if (value === undefined || value === null) continue;
    if (field.fieldKind === 'map') {
      const map = value as Record<string, unknown>;
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(map).sort()) {
        const entry = map[key];
        if (field.mapKind === 'message' && entry !== undefined) sortMaps(entry as Record<string, unknown>, field.message);
        sorted[key] = entry;
      }
      message[field.localName] = sorted;
    } else if (field.fieldKind === 'message') {
      sortMaps(value as Record<string, unknown>, field.message);
    } else if (field.fieldKind === 'list' && field.listKind === 'message') {
      for (const m of value as Array<Record<string, unknown>>) sortMaps(m, field.message);
    }
  }
}
