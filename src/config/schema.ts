// Loading Triton's model_config.proto schema (from the embedded text) with
// protobufjs, keeping snake_case field names.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { MODEL_CONFIG_PROTO } from './model_config_proto.js';

/** File name other protos use to import the schema (`import "model_config.proto";`). */
export const MODEL_CONFIG_PROTO_FILENAME = 'model_config.proto';

/**
 * The package root (the nearest directory above this module holding a
 * package.json); works from both src/config and dist/src/config.
 * @throws {Error} if no package.json is found.
 */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above src/config');
    dir = parent;
  }
}

/**
 * Absolute path of src/config/model_config.proto in the source tree (for
 * tools that need the file, e.g. protoc or another proto's import path).
 * Runtime code should use {@link modelConfigRoot}, which needs no file.
 */
export function modelConfigProtoPath(): string {
  return path.join(packageRoot(), 'src', 'config', MODEL_CONFIG_PROTO_FILENAME);
}

/**
 * Parses the embedded model_config.proto into `root` (a new Root by default)
 * with `keepCase: true`, so other protos (e.g. grpc_service.proto, which
 * imports model_config.proto) can be parsed into the same root afterwards.
 *
 * @param root the Root to add the `inference` package to.
 * @returns that root, fully resolved.
 */
export function newModelConfigRoot(root: protobuf.Root = new protobuf.Root()): protobuf.Root {
  protobuf.parse(MODEL_CONFIG_PROTO, root, { keepCase: true });
  root.resolveAll();
  return root;
}

let shared: protobuf.Root | undefined;

/**
 * The shared, resolved protobufjs Root holding package `inference` (Triton's
 * model_config.proto). Do not add other definitions to it; use
 * {@link newModelConfigRoot} for that.
 */
export function modelConfigRoot(): protobuf.Root {
  shared ??= newModelConfigRoot();
  return shared;
}

/** The protobufjs type `inference.ModelConfig` from {@link modelConfigRoot}. */
export function modelConfigType(): protobuf.Type {
  return modelConfigRoot().lookupType('inference.ModelConfig');
}
