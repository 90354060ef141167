/**
 * A fake {@link ModelInstance} for the schedulers' unit tests: it records every execution (which
 * requests, when, on which instance) and completes each one after a fixed compute time on a
 * {@link VirtualClock}, or fails it when told to.
 */
import type { ExecutionOutcome, ModelInstance } from '../../src/core/backend.js';
import type { InferenceRequest } from '../../src/core/request.js';
import type { QueuedRequest } from '../../src/core/scheduler/scheduler.js';
import type { ExecuteResult } from '../../src/core/request.js';
import type { Tensor } from '../../src/core/tensor.js';
import { TritonError } from '../../src/protocol/errors.js';
import type { VirtualClock } from './virtual-clock.js';

/** One execution as the fake instance saw it. */
export interface Execution {
  instance: string;
  /** Request ids, in batch order. */
  ids: string[];
  /** Virtual time it started and ended (ms). */
  start: number;
  end: number;
  /** Executions handed over together with this one (`executeSeveral`), 1 for a lone `execute`. */
  bundle: number;
  /** The requests as the instance got them (with any inputs the scheduler added). */
  requests: InferenceRequest[];
}

/** Options of a fake instance. */
export interface FakeInstanceOptions {
  /** Virtual compute time of one execution, ms (default 1). */
  computeMs?: number;
  /** Compute time reported in the execution's timings, ms (default `computeMs`). */
  reportedMs?: number;
  /** Offer `executeSeveral` (default scheduler bundling), as the ONNX Runtime instances do. */
  several?: boolean;
  /** Request ids whose execution result is an error (the instance's own, per request). */
  failIds?: Set<string>;
  /** The outputs of each request (default: none). */
  compute?: (request: InferenceRequest) => Tensor[];
}

/** A model instance that runs on virtual time and records what it ran into `log`. */
export class FakeInstance implements ModelInstance {
  executeSeveral?: (batches: InferenceRequest[][]) => Promise<ExecutionOutcome[]>;

  constructor(
    readonly name: string,
    private readonly clock: VirtualClock,
    private readonly log: Execution[],
    private readonly options: FakeInstanceOptions = {},
  ) {
    if (options.several) {
      this.executeSeveral = async (batches) => {
        const out: ExecutionOutcome[] = [];
        for (const b of batches) out.push(await this.run(b, batches.length));
        return out;
      };
    }
  }

  execute(requests: InferenceRequest[]): Promise<ExecutionOutcome> {
    return this.run(requests, 1);
  }

  private run(requests: InferenceRequest[], bundle: number): Promise<ExecutionOutcome> {
    const ms = this.options.computeMs ?? 1;
    const reported = this.options.reportedMs ?? ms;
    const e: Execution = {
      instance: this.name,
      ids: requests.map((r) => r.id),
      start: this.clock.now(),
      end: NaN,
      bundle,
      requests,
    };
    this.log.push(e);
    return new Promise((resolve) => {
      this.clock.setTimeout(
        () => {
          e.end = this.clock.now();
          const results: ExecuteResult[] = requests.map((r) =>
            this.options.failIds?.has(r.id)
              ? new TritonError('INTERNAL', `model failed request '${r.id}'`)
              : { outputs: this.options.compute?.(r) ?? [] },
          );
          resolve({
            results,
            timings: { computeInputNs: 0, computeInferNs: reported * 1e6, computeOutputNs: 0 },
          });
        },
        ms,
        true,
      );
    });
  }

  async unload(): Promise<void> {}
}

/** What a request's caller got back. */
export interface Delivery {
  id: string;
  /** The error's message, or undefined for outputs. */
  error?: string;
  /** The error, when the request failed. */
  failure?: TritonError;
  /** Virtual time of delivery and the ms the scheduler says it waited in the queue. */
  at: number;
  queueMs: number;
}

/** Request fields a test sets. */
export interface TestRequest {
  /** Batch size (first dim), default 1. */
  batch?: number;
  /** Non-batch dims of INPUT0, default [4]. */
  dims?: number[];
  parameters?: Record<string, string | number | boolean>;
  signal?: QueuedRequest['request']['signal'];
}

/**
 * A queued request for `id`, enqueued now, whose delivery is appended to `deliveries`.
 * Its one input is FP32 INPUT0 of shape [batch, ...dims], every element 1.
 */
export function queued(
  id: string,
  clock: VirtualClock,
  deliveries: Delivery[],
  r: TestRequest = {},
): QueuedRequest {
  const batch = r.batch ?? 1;
  return {
    request: {
      model: 'm',
      id,
      inputs: [
        {
          name: 'INPUT0',
          datatype: 'FP32',
          shape: [batch, ...(r.dims ?? [4])],
          data: new Uint8Array(
            new Float32Array(batch * (r.dims ?? [4]).reduce((n, d) => n * d, 1)).fill(1).buffer,
          ),
        },
      ],
      parameters: r.parameters ?? {},
      signal: r.signal,
    },
    batchSize: batch,
    enqueuedAt: clock.now(),
    done: (result, queueMs) =>
      deliveries.push({
        id,
        error: result instanceof TritonError ? result.message : undefined,
        failure: result instanceof TritonError ? result : undefined,
        at: clock.now(),
        queueMs,
      }),
    state: undefined,
  };
}
