import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createFileRegistry, fromBinary, type DescMethod, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

/** Descriptors that cannot be read, or that lack what a route names; the configuration names the route. */
export class DescriptorError extends Error {}

/**
 * The message types the HTTP gateway transcodes, from a binary FileDescriptorSet (what
 * `protoc --include_imports --descriptor_set_out` or `buf build` write) or from .proto
 * files compiled with buf (the @bufbuild/buf npm package ships the compiler). Read with
 * @bufbuild/protobuf, whose JSON mapping passes the protobuf conformance suite.
 */
export class Descriptors {
  private constructor(readonly registry: FileRegistry) {}

  static fromDescriptorSet(path: string): Descriptors {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new DescriptorError(`http.descriptor_set '${path}': cannot read it: ${(err as Error).message}`);
    }
    try {
      return new Descriptors(createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes)));
    } catch (err) {
      throw new DescriptorError(`http.descriptor_set '${path}': not a FileDescriptorSet: ${(err as Error).message}`);
    }
  }

  /**
   * Compiles `files` with their imports; `root` is the include directory they are under
   * (protoc's -I), and the files are named as protoc takes them (e.g. protos/shop/orders.proto).
   */
  static fromProtoFiles(root: string, files: readonly string[]): Descriptors {
    const buf = createRequire(import.meta.url).resolve('@bufbuild/buf/bin/buf');
    const paths = files.flatMap((f) => ['--path', f]);
    let bytes: Buffer;
    try {
      bytes = execFileSync(buf, ['build', root, ...paths, '--as-file-descriptor-set', '--exclude-source-info', '-o', '-'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new DescriptorError(`http.proto_files: ${stderr || (err as Error).message}`);
    }
    return new Descriptors(createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes)));
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
