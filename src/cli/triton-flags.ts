/**
 * `tritonserver` flags that Nereid accepts without acting on them, or refuses with a message saying
 * they are not supported: every documented Triton flag parses (server `src/command_line_parser.cc`),
 * so a Triton deployment's command line never fails on an "unknown option". docs/server.md lists
 * them with the reason for each.
 */

/** How a flag's value is written. */
type ArgKind = 'bool' | 'int' | 'float' | 'string' | 'pair';

/** A Triton flag Nereid does not act on. */
export interface PassiveFlag {
  /** Flag name without dashes, as tritonserver spells it. */
  name: string;
  kind: ArgKind;
  /** For `pair` values: the separator and what each side is (`<integer>:<integer>`). */
  format?: { separator: string; description: string };
  /** Help text: what Triton does with it, and why Nereid does not. */
  help: string;
  /**
   * Why a value cannot be honoured (the flag is then refused); undefined when the value is
   * accepted. Absent: every well-formed value is accepted.
   */
  unsupported?: (value: string | boolean | number) => string | undefined;
  /** Triton's own validation of the value, with its message; undefined when valid. */
  validate?: (value: string | boolean | number) => string | undefined;
}

const onlyFalse = (what: string) => (v: string | boolean | number) =>
  v === true ? `${what} is not supported by Nereid` : undefined;

/** Every Triton flag that parses in Nereid without an effect (or is refused), in Triton's groups' order. */
export const PASSIVE_FLAGS: readonly PassiveFlag[] = [
  {
    name: 'model-namespacing',
    kind: 'bool',
    help: 'serve models of the same name from different repositories (not supported: only false)',
    unsupported: onlyFalse('model namespacing'),
  },
  {
    name: 'enable-peer-access',
    kind: 'bool',
    help: 'CUDA peer access between GPUs (no effect: ONNX Runtime manages device memory)',
  },
  {
    name: 'reuse-http-port',
    kind: 'bool',
    help: 'share the HTTP port among servers (not supported: Node 20 cannot set SO_REUSEPORT; only false)',
    unsupported: onlyFalse('--reuse-http-port=true'),
  },
  {
    name: 'http-thread-count',
    kind: 'int',
    help: 'threads serving HTTP (no effect: one event loop serves HTTP; models run on their own threads)',
  },
  {
    name: 'reuse-grpc-port',
    kind: 'bool',
    help: 'share the gRPC port among servers (not supported: only false)',
    unsupported: onlyFalse('--reuse-grpc-port=true'),
  },
  {
    name: 'grpc-infer-thread-count',
    kind: 'int',
    help: 'threads serving gRPC inference, 2 to 128 (no effect: one event loop serves gRPC)',
    validate: (v) =>
      typeof v === 'number' && (v < 2 || v > 128)
        ? 'invalid argument for --grpc_infer_thread_count. Must be in the range 2 to 128.'
        : undefined,
  },
  {
    name: 'grpc-infer-allocation-pool-size',
    kind: 'int',
    help: 'request/response states kept for reuse (no effect: JavaScript objects are garbage-collected)',
  },
  {
    name: 'grpc-max-response-pool-size',
    kind: 'int',
    help: 'response objects kept per queue (no effect)',
    validate: (v) =>
      typeof v === 'number' && v <= 0
        ? 'Error: --grpc-max-response-pool-size must be greater than 0.'
        : undefined,
  },
  {
    name: 'allow-sagemaker',
    kind: 'bool',
    help: 'serve the SageMaker endpoints (not supported: only false)',
    unsupported: onlyFalse('the SageMaker endpoint'),
  },
  { name: 'sagemaker-port', kind: 'int', help: 'SageMaker port (no effect without --allow-sagemaker)' },
  {
    name: 'sagemaker-safe-port-range',
    kind: 'pair',
    format: { separator: '-', description: '<integer>-<integer>' },
    help: 'ports allowed besides SageMaker (no effect without --allow-sagemaker)',
  },
  { name: 'sagemaker-thread-count', kind: 'int', help: 'SageMaker threads (no effect)' },
  {
    name: 'allow-vertex-ai',
    kind: 'bool',
    help: 'serve the Vertex AI endpoint (not supported: only false)',
    unsupported: onlyFalse('the Vertex AI endpoint'),
  },
  { name: 'vertex-ai-port', kind: 'int', help: 'Vertex AI port (no effect without --allow-vertex-ai)' },
  { name: 'vertex-ai-thread-count', kind: 'int', help: 'Vertex AI threads (no effect)' },
  { name: 'vertex-ai-default-model', kind: 'string', help: 'Vertex AI default model (no effect)' },
  {
    name: 'cache-directory',
    kind: 'string',
    help: 'where Triton looks for response-cache libraries (no effect: no response cache yet)',
  },
  {
    name: 'pinned-memory-pool-byte-size',
    kind: 'int',
    help: 'pinned host memory for GPU copies, bytes (no effect: ONNX Runtime does its own copies)',
  },
  {
    name: 'cuda-memory-pool-byte-size',
    kind: 'pair',
    format: { separator: ':', description: '<integer>:<integer>' },
    help: "CUDA memory pool per GPU, <gpu>:<bytes> (no effect: ONNX Runtime's CUDA provider has its own arena)",
  },
  {
    name: 'cuda-virtual-address-size',
    kind: 'pair',
    format: { separator: ':', description: '<integer>:<integer>' },
    help: 'CUDA virtual address size for growable implicit state, <gpu>:<bytes> (no effect)',
  },
  {
    name: 'min-supported-compute-capability',
    kind: 'float',
    help: 'least CUDA compute capability of a usable GPU (no effect: ONNX Runtime decides)',
  },
  {
    name: 'buffer-manager-thread-count',
    kind: 'int',
    help: 'threads for tensor copies (no effect: tensors are not copied between requests and instances)',
  },
  {
    name: 'host-policy',
    kind: 'pair',
    format: { separator: ',', description: '<policy name>,<setting>=<value>' },
    help: 'NUMA node and CPU cores of a host policy (no effect)',
  },
  {
    name: 'model-load-gpu-limit',
    kind: 'pair',
    format: { separator: ':', description: '<device_id>:<fraction>' },
    help: 'refuse GPU loads above this fraction of memory in use (no effect)',
  },
  {
    name: 'backend-directory',
    kind: 'string',
    help: 'where Triton looks for backend libraries (no effect: the backends are built in)',
  },
  {
    name: 'repoagent-directory',
    kind: 'string',
    help: 'where Triton looks for repository agents (no effect: no repository agents)',
  },
];

/**
 * Checks a `pair` value's shape (`<a><sep><b>`, both sides present).
 * @returns Triton's message for a malformed value, or undefined.
 */
export function pairProblem(flag: PassiveFlag, value: string): string | undefined {
  const f = flag.format!;
  const at = value.indexOf(f.separator);
  if (at <= 0 || at === value.length - 1) {
    return `--${flag.name} option format is '${f.description}'. Got ${value}`;
  }
  return undefined;
}
