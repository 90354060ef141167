/**
 * Triton's model_config.proto schema, loaded with protobufjs from the embedded text (no .proto file
 * at run time), keeping snake_case field names.
 */
import protobuf from 'protobufjs';
import { MODEL_CONFIG_PROTO } from './model_config_proto.js';

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
