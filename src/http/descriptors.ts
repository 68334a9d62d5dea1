import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createFileRegistry, create, fromBinary, type DescMethod, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorProto, type FileDescriptorSet } from '@bufbuild/protobuf/wkt';

/** Descriptors that cannot be read, or that lack what a route names; the configuration names the route. */
export class DescriptorError extends Error {}

/** Where descriptors come from: the `http` section's descriptor_set, proto_files and proto_paths. */
export interface DescriptorSources {
  descriptorSet: string | undefined;
  protoFiles: readonly string[];
  protoPaths: readonly string[];
}

/**
 * corral's copy of google/api/{http,annotations}.proto: two folders up from src/http/,
 * three from dist/src/http/. Added as the last include path unless the user's have them.
 */
const BUNDLED = ['../../proto', '../../../proto'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((p) => existsSync(join(p, 'google/api/http.proto')));

const run = promisify(execFile);

/**
 * The message types the HTTP gateway transcodes, from a binary FileDescriptorSet (what
 * `protoc --include_imports --descriptor_set_out` or `buf build` write) and from .proto
 * files compiled with buf (the @bufbuild/buf npm package ships the compiler). Read with
 * @bufbuild/protobuf, whose JSON mapping passes the protobuf conformance suite.
 */
export class Descriptors {
  private constructor(readonly registry: FileRegistry) {}

  /** Both sources when both are given; a file in both is taken from the descriptor set. */
  static async load(sources: DescriptorSources): Promise<Descriptors> {
    const sets: FileDescriptorSet[] = [];
    if (sources.descriptorSet !== undefined) sets.push(await readDescriptorSet(sources.descriptorSet));
    if (sources.protoFiles.length > 0) sets.push(await compile(sources.protoPaths, sources.protoFiles));
    const seen = new Set<string>();
    const files: FileDescriptorProto[] = [];
    for (const file of sets.flatMap((s) => s.file)) {
      if (seen.has(file.name)) continue;
      seen.add(file.name);
      files.push(file);
    }
    try {
      return new Descriptors(createFileRegistry(create(FileDescriptorSetSchema, { file: files })));
    } catch (err) {
      throw new DescriptorError(`http: the descriptors do not fit together: ${(err as Error).message}`);
    }
  }

  /** The method `service`/`method` (e.g. trading.v1.OrderService / GetOrder); a DescriptorError naming what is missing. */
  method(service: string, method: string): DescMethod {
    const desc = this.registry.getService(service);
    if (desc === undefined) throw new DescriptorError(`no service ${service} in the descriptors`);
    const found = desc.methods.find((m) => m.name === method);
    if (found === undefined) throw new DescriptorError(`service ${service} has no method ${method} (it has ${desc.methods.map((m) => m.name).join(', ')})`);
    return found;
  }
}

async function readDescriptorSet(path: string): Promise<FileDescriptorSet> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new DescriptorError(`http.descriptor_set '${path}': cannot read it: ${(err as Error).message}`);
  }
  try {
    return fromBinary(FileDescriptorSetSchema, bytes);
  } catch (err) {
    throw new DescriptorError(`http.descriptor_set '${path}': not a FileDescriptorSet: ${(err as Error).message}`);
  }
}

/**
 * Compiles `files` and their imports as protoc does with `-I` for each of `includes` (the
 * working directory when none): a file is named by its path under the include that holds
 * it. buf takes one workspace, so the includes become its modules, linked from a
 * temporary directory; buf's messages are given back the real paths.
 */
async function compile(includes: readonly string[], files: readonly string[]): Promise<FileDescriptorSet> {
  const roots = (includes.length > 0 ? includes : ['.']).map((dir) => resolve(dir));
  if (BUNDLED !== undefined && !roots.some((root) => existsSync(join(root, 'google/api/http.proto')))) roots.push(BUNDLED);
  const paths = files.map((file) => {
    const path = resolve(file);
    const index = roots.findIndex((root) => path.startsWith(root + sep));
    if (index < 0) throw new DescriptorError(`http.proto_files: '${file}' is not under any of proto_paths (${includes.join(', ') || '.'})`);
    return join(`m${index}`, relative(roots[index]!, path));
  });
  // buf's workspace and its cache both in one temporary directory: nothing else is written,
  // so a read-only root filesystem only needs a writable TMPDIR.
  const temporary = await mkdtemp(join(tmpdir(), 'corral-buf-'));
  const workspace = join(temporary, 'workspace');
  try {
    await mkdir(workspace);
    await Promise.all(roots.map((root, i) => symlink(root, join(workspace, `m${i}`), 'dir')));
    await writeFile(join(workspace, 'buf.yaml'), `version: v2\nmodules:\n${roots.map((_, i) => `  - path: m${i}\n`).join('')}`);
    const buf = createRequire(import.meta.url).resolve('@bufbuild/buf/bin/buf');
    const args = ['build', '.', ...paths.flatMap((p) => ['--path', p]), '--as-file-descriptor-set', '--exclude-source-info', '-o', '-'];
    const env = { ...process.env, BUF_CACHE_DIR: join(temporary, 'cache') };
    try {
      const { stdout } = await run(buf, args, { cwd: workspace, env, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
      return fromBinary(FileDescriptorSetSchema, stdout);
    } catch (err) {
      const message = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
      // One pass, so a real path that happens to contain "m1/" is left alone.
      const named = message.replace(/(^|[^\w./-])m(\d+)\//gm, (whole, before: string, i: string) => (roots[Number(i)] === undefined ? whole : `${before}${roots[Number(i)]}/`));
      throw new DescriptorError(`http.proto_files: ${named}`);
    }
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
}
