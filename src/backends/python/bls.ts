/**
 * BLS (business logic scripting, Triton python_backend docs "Business Logic Scripting"): a model's
 * `pb_utils.InferenceRequest(...).exec()` / `async_exec()` / `exec(decoupled=True)` arrives from the
 * stub as a `bls` frame; the request runs on this server like any other (any model, any backend)
 * and its response(s) go back as `bls_response` frames with the same `bid`.
 */
import { asTritonError, TritonError } from '../../protocol/errors.js';
import type {
  InferenceRequest,
  InferenceResponse,
  ParameterValue,
  StreamCallback,
} from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import { errorCodeNumber, type Meta } from './protocol.js';

/** Where BLS requests run: the server that loaded the model (`ModelLoadContext.infer/inferStream`). */
export interface BlsServer {
  /** Runs a request on a model that is not decoupled. */
  infer?: (request: InferenceRequest) => Promise<InferenceResponse>;
  /** Runs a request on a decoupled model, one call per response. */
  inferStream?: (request: InferenceRequest, onResponse: StreamCallback) => Promise<void>;
}

/**
 * Runs the BLS request of a `bls` frame (`meta.request`, inputs in `tensors`) and answers on
 * `stub` with `bls_response` frames: one final frame, or one per response of a decoupled model
 * (`meta.decoupled`) with `final` on the last. Errors (unknown model, failed inference, no BLS on
 * this server) are answered as an error response, never thrown.
 */
export function serveBls(
  stub: { send(meta: Meta, tensors?: readonly Tensor[]): void },
  meta: Meta,
  tensors: Tensor[],
  server: BlsServer,
): void {
  const bid = meta.bid as number;
  const r = meta.request as {
    model: string;
    version: string;
    id: string;
    correlation_id: number | string;
    flags: number;
    timeout: number;
    parameters: Record<string, ParameterValue>;
    outputs: string[];
  };
  const parameters: Record<string, ParameterValue> = { ...r.parameters };
  if (r.correlation_id) parameters.sequence_id = r.correlation_id;
  if (r.flags & 1) parameters.sequence_start = true;
  if (r.flags & 2) parameters.sequence_end = true;
  if (r.timeout > 0) parameters.timeout = r.timeout;
  const request: InferenceRequest = {
    model: r.model,
    version: r.version || undefined,
    id: r.id,
    inputs: tensors,
    outputs: r.outputs.length > 0 ? r.outputs.map((name) => ({ name })) : undefined,
    parameters,
  };
  const answer = (res: InferenceResponse | TritonError | undefined, final: boolean) => {
    if (res instanceof TritonError) {
      stub.send({
        t: 'bls_response',
        bid,
        final,
        response: { error: [errorCodeNumber(res.code), res.message] },
      });
    } else if (res) {
      stub.send(
        { t: 'bls_response', bid, final, response: res.parameters ? { parameters: res.parameters } : {} },
        res.outputs,
      );
    } else {
      stub.send({ t: 'bls_response', bid, final });
    }
  };
  const { infer, inferStream } = server;
  if (meta.decoupled === true && inferStream) {
    void inferStream(request, answer);
  } else if (infer) {
    infer(request).then(
      (res) => answer(res, true),
      (e) => answer(asTritonError(e), true),
    );
  } else {
    answer(new TritonError('UNSUPPORTED', 'BLS is not available in this server'), true);
  }
}
