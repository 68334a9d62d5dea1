import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type * as Grpc from '@grpc/grpc-js';
import { Status } from '../wire/status.js';
import type { ClientTls } from '../tls/client-tls.js';
import { create, createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import * as wkt from '@bufbuild/protobuf/wkt';
import type { DescFile } from '@bufbuild/protobuf';

/** The well-known types' files (google/protobuf/*.proto), for servers that describe a file importing one without sending it. */
const WELL_KNOWN = new Map<string, DescFile>(
  Object.entries(wkt)
    .filter(([name]) => name.startsWith('file_google_protobuf_'))
    .map(([, file]) => [(file as DescFile).proto.name, file as DescFile]),
);

/**
 * corral's copy of grpc/reflection/v{1,1alpha}/reflection.proto: two folders up from
 * src/reflection/, three from dist/src/reflection/.
 */
const PROTO_DIR = ['../../proto', '../../../proto'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((p) => existsSync(join(p, 'grpc/reflection/v1/reflection.proto')));

/** The reflection services, newest first: servers that predate v1 serve only v1alpha. */
const VERSIONS = ['v1', 'v1alpha'] as const;

type ReflectionStub = Grpc.Client & { ServerReflectionInfo(options: Grpc.CallOptions): Grpc.ClientDuplexStream<unknown, ReflectionResponse> };

// grpc-js and its proto loader are loaded by the first question: a corral with reflection
// off (COLLAPSER_REFLECTION=off) does not carry them.
const require = createRequire(import.meta.url);
let grpcJs: typeof Grpc | null = null;
const grpc = (): typeof Grpc => (grpcJs ??= require('@grpc/grpc-js') as typeof Grpc);

interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

let stubs: Map<string, Grpc.ServiceClientConstructor> | null = null;

function stubFor(version: (typeof VERSIONS)[number]): Grpc.ServiceClientConstructor {
  if (stubs === null) {
    if (PROTO_DIR === undefined) throw new Error('grpc/reflection protos not found beside corral');
    stubs = new Map();
    const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
    for (const v of VERSIONS) {
      const definition = protoLoader.loadSync(`grpc/reflection/${v}/reflection.proto`, { includeDirs: [PROTO_DIR], keepCase: true, defaults: false });
      const pkg = grpc().loadPackageDefinition(definition) as unknown as { grpc: { reflection: Record<string, { ServerReflection: Grpc.ServiceClientConstructor }> } };
      stubs.set(v, pkg.grpc.reflection[v]!.ServerReflection);
    }
  }
  return stubs.get(version)!;
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
 * their methods' idempotency levels can be read. Asks v1, then v1alpha. A control-plane
 * call, made with grpc-js, once per endpoint and configuration, never on the data path.
 */
export async function reflect(address: string, timeoutMs: number, tls: ClientTls | null = null): Promise<FileRegistry> {
  let last: unknown = null;
  for (const version of VERSIONS) {
    try {
      return await reflectWith(version, address, timeoutMs, tls);
    } catch (err) {
      last = err;
      if ((err as { code?: number }).code !== Status.UNIMPLEMENTED) break;
    }
  }
  const unsupported = (last as { code?: number }).code === Status.UNIMPLEMENTED;
  throw new ReflectionUnavailable(`${address}: ${unsupported ? 'serves no gRPC server reflection' : (last as Error).message}`, unsupported);
}

function reflectWith(version: (typeof VERSIONS)[number], address: string, timeoutMs: number, tls: ClientTls | null): Promise<FileRegistry> {
  const Stub = stubFor(version);
  const { credentials } = grpc();
  // Over TLS as the data path reaches the endpoint: its CA, corral's certificate, the name to verify.
  const client = (
    tls === null
      ? new Stub(address, credentials.createInsecure())
      : new Stub(address, credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null), tls.serverName === undefined ? {} : { 'grpc.ssl_target_name_override': tls.serverName })
  ) as unknown as ReflectionStub;
  const call = client.ServerReflectionInfo({ deadline: Date.now() + timeoutMs });
  const files = new Map<string, FileDescriptorProto>();
  let pending = 0;
  return new Promise<FileRegistry>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      call.removeAllListeners();
      call.on('error', () => {});
      call.cancel();
      client.close();
      if (err !== null) return reject(err);
      try {
        addWellKnown(files);
        const set = [...files.values()];
        qualifyTypeNames(set);
        addMissingDependencies(set);
        resolve(createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(set) })));
      } catch (e) {
        reject(new Error(`its descriptors do not resolve: ${(e as Error).message}`));
      }
    };
    call.on('data', (response: ReflectionResponse) => {
      if (response.list_services_response !== undefined) {
        for (const { name } of response.list_services_response.service) {
          if (name.startsWith('grpc.reflection.')) continue;
          pending++;
          call.write({ file_containing_symbol: name });
        }
        if (pending === 0) finish(null);
        return;
      }
      if (response.file_descriptor_response !== undefined) {
        for (const bytes of response.file_descriptor_response.file_descriptor_proto) {
          const file = fromBinary(FileDescriptorProtoSchema, bytes);
          files.set(file.name, file);
        }
      }
      // An error_response (a symbol it cannot describe) leaves that service undescribed.
      if (pending > 0 && --pending === 0) finish(null);
    });
    call.on('error', (err) => finish(err));
    // A server that ends the stream before answering every question is not speaking reflection.
    call.on('end', () => finish(new Error('the reflection stream ended before its answers')));
    call.write({ list_services: '' });
  });
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
