/**
 * The scheduler interface: how a model version's requests reach its model instances.
 * Triton keeps one scheduler per model (core `src/scheduler.h`); Nereid does the same, one file per
 * scheduler in this folder.
 */
import type { TritonError } from '../../protocol/errors.js';
import type { ExecuteResult, InferenceRequest } from '../request.js';

/** A request waiting in a scheduler. */
export interface QueuedRequest {
  /** The validated request. */
  request: InferenceRequest;
  /** Its batch size (first dim of its inputs for a batching model, else 1). */
  batchSize: number;
  /** When it was enqueued, in ms on the scheduler's clock (`performance.now()` outside unit tests). */
  enqueuedAt: number;
  /** Called exactly once with the request's outputs or error, and the ms it spent queued. */
  done(result: ExecuteResult, queueMs: number): void;
  /** Set by the scheduler while the request waits: releases its abort listener and timers. */
  detach?: () => void;
  /**
   * The scheduler's own bookkeeping for this request (the dynamic batcher's queue, shape key,
   * timer and ordering slot), undefined until it is queued. It lives on the request rather than in
   * a `Map` keyed by requests: such a map, long-lived and churned by every request, made V8's
   * scavenger promote whole finished requests to the old generation (FinalNet at concurrency 64,
   * with pretenuring off: 1.7-2.8 MB promoted per scavenge with the map, 0.3 MB without).
   */
  state?: unknown;
}

/** Dispatches queued requests to model instances. */
export interface Scheduler {
  /** Queues a request; its `done` is called when it has executed, failed or was cancelled. */
  enqueue(q: QueuedRequest): void;
  /** Number of requests queued and not yet executing. */
  pending(): number;
  /** Resolves once nothing is queued or executing (used to drain before unload). */
  idle(): Promise<void>;
  /** Releases timers once the scheduler is idle and will get no more requests (after unload). */
  close(): void;
  /** Fails every queued request with `error` (used on unload). */
  rejectQueued(error: TritonError): void;
}
