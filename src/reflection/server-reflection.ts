import type { Headers, Metadata, ResponseListener } from '../call/call.js';
import type { BackendExchange } from '../transport/backend-exchange.js';
import { FRAME_HEADER_BYTES, encodeFrame } from '../wire/frame.js';
import { requestHeaders } from '../wire/metadata.js';
import { GrpcError, Status, decodeGrpcMessage, statusCode, type StatusCode } from '../wire/status.js';
import { formatGrpcTimeout } from '../wire/timeout.js';
import { create, createFileRegistry, fromBinary, toBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import * as wkt from '@bufbuild/protobuf/wkt';
import type { DescFile } from '@bufbuild/protobuf';
import {
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from './gen/grpc/reflection/v1/reflection_pb.js';

/** The well-known types' files (google/protobuf/*.proto), for servers that describe a file importing one without sending it. */
const WELL_KNOWN = new Map<string, DescFile>(
  Object.entries(wkt)
    .filter(([name]) => name.startsWith('file_google_protobuf_'))
    .map(([, file]) => [(file as DescFile).proto.name, file as DescFile]),
);

/**
 * The reflection services, newest first: servers that predate v1 serve only v1alpha. Both
 * carry the same messages (field for field), so v1's serve for both.
 */
const PATHS = ['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'];

/**
 * Where a question goes: corral's own sessions to the endpoint (its SessionPool), the way
 * its calls go, so asking opens no connection of its own (a reload asks every endpoint
 * again) and a TLS backend is asked over the session it already has.
 */
export interface ReflectionTransport {
  exchange(headers: Metadata, listener: ResponseListener, streaming: boolean): BackendExchange;
}

/** Why nothing was learned from a backend: it has no reflection service, or it could not be asked. */
export class ReflectionUnavailable extends Error {
  constructor(
    message: string,
    /** The backend answered that it serves no reflection (UNIMPLEMENTED): asking again will not help. */
    readonly unsupported: boolean,
  ) {
    super(message);
  }
}

/**
 * What a backend says of itself over gRPC server reflection: the files describing every
 * service it lists (each with the files it imports), as a registry of descriptors, so
 * their methods' idempotency levels can be read. Asks v1, then v1alpha; two calls on the
 * ServerReflectionInfo stream, each with all its questions sent at once: the services,
 * then a file for each. A control-plane call, once per endpoint and configuration, never
 * on the data path.
 */
export async function reflect(transport: ReflectionTransport, address: string, timeoutMs: number): Promise<FileRegistry> {
  let last: unknown = null;
  for (const path of PATHS) {
    try {
      return await reflectOn(transport, path, timeoutMs);
    } catch (err) {
      last = err;
      if ((err as { code?: number }).code !== Status.UNIMPLEMENTED) break;
    }
  }
  const unsupported = (last as { code?: number }).code === Status.UNIMPLEMENTED;
  throw new ReflectionUnavailable(`${address}: ${unsupported ? 'serves no gRPC server reflection' : (last as Error).message}`, unsupported);
}

async function reflectOn(transport: ReflectionTransport, path: string, timeoutMs: number): Promise<FileRegistry> {
  const deadline = performance.now() + timeoutMs;
  const [listed] = await ask(transport, path, [{ case: 'listServices', value: '' }], deadline);
  const services = listed?.messageResponse.case === 'listServicesResponse' ? listed.messageResponse.value.service.map((s) => s.name) : [];
  const described = services.filter((name) => !name.startsWith('grpc.reflection.'));
  const files = new Map<string, FileDescriptorProto>();
  if (described.length > 0) {
    const answers = await ask(transport, path, described.map((name) => ({ case: 'fileContainingSymbol', value: name }) as const), deadline);
    for (const answer of answers) {
      // An error_response (a symbol it cannot describe) leaves that service undescribed.
      if (answer.messageResponse.case !== 'fileDescriptorResponse') continue;
      for (const bytes of answer.messageResponse.value.fileDescriptorProto) {
        const file = fromBinary(FileDescriptorProtoSchema, bytes);
        files.set(file.name, file);
      }
    }
  }
  try {
    addWellKnown(files);
    const set = [...files.values()];
    qualifyTypeNames(set);
    addMissingDependencies(set);
    return createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(set) }));
  } catch (e) {
    throw new Error(`its descriptors do not resolve: ${(e as Error).message}`);
  }
}

/** One ServerReflectionInfo call: every question sent at once, then the half-close; resolves with the answers. */
function ask(transport: ReflectionTransport, path: string, questions: ServerReflectionRequest['messageRequest'][], deadline: number): Promise<ServerReflectionResponse[]> {
  const remaining = Math.max(1, Math.round(deadline - performance.now()));
  const body = Buffer.concat(questions.map((q) => encodeFrame(toBinary(ServerReflectionRequestSchema, create(ServerReflectionRequestSchema, { messageRequest: q })))));
  return new Promise((resolve, reject) => {
    const answer = new Answer(resolve, reject);
    let exchange: BackendExchange;
    try {
      exchange = transport.exchange(requestHeaders(path, { 'grpc-timeout': formatGrpcTimeout(remaining), 'grpc-accept-encoding': 'identity' }), answer, false);
    } catch (err) {
      reject(err);
      return;
    }
    answer.timer = setTimeout(() => exchange.abort(new GrpcError(Status.DEADLINE_EXCEEDED, `no answer over server reflection within ${remaining}ms`)), remaining);
    exchange.send(body);
  });
}

/** The response of one reflection call: its messages, then its status. */
class Answer implements ResponseListener {
  private readonly chunks: Buffer[] = [];
  timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly resolve: (answers: ServerReflectionResponse[]) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  onHeaders(headers: Headers, endsResponse: boolean): void {
    if (endsResponse) this.onTrailers(headers);
  }

  onData(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onTrailers(trailers: Headers): void {
    this.settle();
    const code = statusCode(trailers['grpc-status']);
    if (code !== Status.OK) return this.reject(new GrpcError(code as StatusCode, decodeGrpcMessage(trailers['grpc-message']) || `status ${code}`));
    try {
      this.resolve(messages(Buffer.concat(this.chunks)));
    } catch (err) {
      this.reject(err as Error);
    }
  }

  onError(error: GrpcError): void {
    this.settle();
    this.reject(error);
  }

  private settle(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}

/** The response messages in gRPC framing (uncompressed, as asked for). */
function messages(bytes: Buffer): ServerReflectionResponse[] {
  const out: ServerReflectionResponse[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + FRAME_HEADER_BYTES > bytes.length || bytes[at] !== 0) throw new Error('the reflection answer is not uncompressed gRPC framing');
    const length = bytes.readUInt32BE(at + 1);
    const end = at + FRAME_HEADER_BYTES + length;
    if (end > bytes.length) throw new Error('the reflection answer ends inside a message');
    out.push(fromBinary(ServerReflectionResponseSchema, bytes.subarray(at + FRAME_HEADER_BYTES, end)));
    at = end;
  }
  return out;
}

/**
 * Makes every field's type name fully qualified (`.pkg.Msg`), as protoc writes them.
 * Some servers describe themselves with the names as written in the .proto (`Status`):
 * grpc-js's @grpc/reflection, from @grpc/proto-loader's descriptors. They are resolved
 * as protobuf scopes them: from the innermost enclosing message outwards to the root.
 */
function qualifyTypeNames(files: FileDescriptorProto[]): void {
  const known = new Set<string>();
  const collect = (scope: string, messages: FileDescriptorProto['messageType'], enums: FileDescriptorProto['enumType']) => {
    for (const e of enums) known.add(`${scope}.${e.name}`);
    for (const m of messages) {
      known.add(`${scope}.${m.name}`);
      collect(`${scope}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  for (const f of files) collect(f.package === '' ? '' : `.${f.package}`, f.messageType, f.enumType);
  const resolveIn = (scope: string, name: string): string | undefined => {
    for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
      const candidate = `${at}.${name}`;
      if (known.has(candidate)) return candidate;
      if (at === '') return undefined;
    }
  };
  const fix = (scope: string, messages: FileDescriptorProto['messageType']) => {
    for (const m of messages) {
      const inner = `${scope}.${m.name}`;
      for (const field of m.field) {
        if (field.typeName !== '' && !field.typeName.startsWith('.')) field.typeName = resolveIn(inner, field.typeName) ?? field.typeName;
      }
      fix(inner, m.nestedType);
    }
  };
  for (const f of files) {
    const scope = f.package === '' ? '' : `.${f.package}`;
    fix(scope, f.messageType);
    for (const service of f.service) {
      for (const method of service.method) {
        if (!method.inputType.startsWith('.')) method.inputType = resolveIn(scope, method.inputType) ?? method.inputType;
        if (!method.outputType.startsWith('.')) method.outputType = resolveIn(scope, method.outputType) ?? method.outputType;
      }
    }
  }
}

/** Adds the well-known types' files that the files import and the server did not send. */
function addWellKnown(files: Map<string, FileDescriptorProto>): void {
  const wanted = [...files.values()].flatMap((f) => f.dependency);
  while (wanted.length > 0) {
    const name = wanted.pop()!;
    const known = WELL_KNOWN.get(name);
    if (files.has(name) || known === undefined) continue;
    files.set(name, known.proto);
    wanted.push(...known.proto.dependency);
  }
}

/**
 * Lists, as a dependency of each file, every other file that defines a type it uses:
 * some servers (@grpc/reflection) send files without their import lists, and a registry
 * resolves a type only through the imports of the file that uses it.
 */
function addMissingDependencies(files: FileDescriptorProto[]): void {
  const definedIn = new Map<string, string>();
  const collect = (file: string, scope: string, messages: FileDescriptorProto['messageType'], enums: FileDescriptorProto['enumType']) => {
    for (const e of enums) definedIn.set(`${scope}.${e.name}`, file);
    for (const m of messages) {
      definedIn.set(`${scope}.${m.name}`, file);
      collect(file, `${scope}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  for (const f of files) collect(f.name, f.package === '' ? '' : `.${f.package}`, f.messageType, f.enumType);
  const used = (messages: FileDescriptorProto['messageType'], out: string[]) => {
    for (const m of messages) {
      for (const field of m.field) if (field.typeName !== '') out.push(field.typeName);
      used(m.nestedType, out);
    }
  };
  for (const f of files) {
    const types: string[] = [];
    used(f.messageType, types);
    for (const service of f.service) for (const method of service.method) types.push(method.inputType, method.outputType);
    for (const type of types) {
      const home = definedIn.get(type);
      if (home !== undefined && home !== f.name && !f.dependency.includes(home)) f.dependency.push(home);
    }
  }
}

/** The files with each one's imports before it (a registry is built in that order). */
function importsFirst(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const out: FileDescriptorProto[] = [];
  const placed = new Set<string>();
  const place = (f: FileDescriptorProto, path: Set<string>) => {
    if (placed.has(f.name) || path.has(f.name)) return;
    path.add(f.name);
    for (const dep of f.dependency) {
      const d = byName.get(dep);
      if (d !== undefined) place(d, path);
    }
    placed.add(f.name);
    out.push(f);
  };
  for (const f of files) place(f, new Set());
  return out;
}
