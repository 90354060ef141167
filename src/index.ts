/**
 * Nereid's programmatic API (`import { startServer } from 'nereid'`): start a whole server in this
 * process — the same server `nereid --model-repository=…` runs — and send it requests in-process
 * through its core or over its sockets. The client library is `nereid/client`. docs/api.md shows
 * how to use it.
 *
 * ```ts
 * import { startServer } from 'nereid';
 * const server = await startServer({ repositories: ['./models'], httpPort: 0, grpcPort: 0, metricsPort: 0 });
 * const response = await server.core.infer({
 *   model: 'simple', id: '', parameters: {},
 *   inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(64) },
 *            { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Uint8Array(64) }],
 * });
 * await server.stop();
 * ```
 */
export { defaultServeSettings, startServer, type RunningServer, type ServeSettings } from './serve.js';
export { NEREID_VERSION } from './core/package.js';
export type { InferenceServer } from './core/server.js';
export type { InferenceRequest, InferenceResponse, ParameterValue, RequestedOutput } from './core/request.js';
export type { Tensor } from './core/tensor.js';
export type { Datatype } from './protocol/datatypes.js';
export { TritonError, type ErrorCode } from './protocol/errors.js';
export type { ModelConfig } from './protocol/model-config/types.js';
