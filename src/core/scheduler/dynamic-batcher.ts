/**
 * Triton's dynamic batcher (docs/user_guide/model_configuration.md "Dynamic Batcher", core
 * `src/dynamic_batch_scheduler.cc`), for models with `max_batch_size > 0` and `dynamic_batching`.
 *
 * - Requests wait in one FIFO queue per priority level (1 = highest; request parameter `priority`,
 *   0 or out of range = `default_priority_level`), plus a queue of delayed requests served last.
 * - When a model instance is free, a batch is formed from the queues in priority order, oldest
 *   first, stopping at the first request that would exceed the largest preferred batch size
 *   (`max_batch_size` when none is given) or whose input shapes differ (inputs with
 *   `allow_ragged_batch` excepted). The batch goes at once when it is full, when it reached a
 *   preferred size, when nothing more can join it, or when its oldest request has waited
 *   `max_queue_delay_microseconds`; otherwise the batcher waits for more requests until then.
 * - Queue policy per level (`priority_queue_policy`, else `default_queue_policy`):
 *   `max_queue_size` (0 = unbounded; a full queue rejects with "Exceeds maximum queue size"),
 *   `default_timeout_microseconds` (0 = none) that a request's `timeout` parameter may shorten when
 *   `allow_timeout_override`, and `timeout_action` REJECT ("Request timeout expired") or DELAY
 *   (the request moves to the delayed queue).
 * - `preserve_ordering`: responses are delivered in the order the requests arrived.
 */
import type {
  ModelConfig,
  ModelDynamicBatching,
  ModelQueuePolicy,
} from '../../protocol/model-config/types.js';
import type { ModelInstance } from '../backend.js';
import { invalidArg, TritonError } from '../../protocol/errors.js';
import type { ExecuteResult, ParameterValue } from '../request.js';
import type { ModelStats } from '../stats.js';
import type { ClockHandle, SchedulerClock } from './clock.js';
import { InstancePool, type BatchDecision } from './instance-pool.js';
import { Fifo } from './queue.js';
import type { QueuedRequest } from './scheduler.js';

/** The batcher's bookkeeping of one request, kept in its `QueuedRequest.state`. */
interface Entry {
  /** Index into `queues` (the last one holds delayed requests); -1 once it left the queues. */
  queue: number;
  /** Inputs' non-batch shapes, for telling which requests can share a batch. */
  shapeKey: string;
  /** Its queue-timeout timer, if its policy has a timeout. */
  timer: ClockHandle | undefined;
  /** `preserve_ordering`: its result while earlier requests' results are still outstanding. */
  result: ExecuteResult | undefined;
  queueMs: number;
}

/** The batcher's entry of a request it admitted (undefined for one it never queued). */
function entryOf(q: QueuedRequest): Entry | undefined {
  return q.state as Entry | undefined;
}

const DEFAULT_POLICY: ModelQueuePolicy = {
  timeout_action: 'REJECT',
  default_timeout_microseconds: 0,
  allow_timeout_override: false,
  max_queue_size: 0,
};

function uintParameter(name: string, v: ParameterValue | undefined, model: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw invalidArg(
      `request parameter '${name}' for model '${model}' must be a non-negative integer, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Checks `dynamic_batching` settings before a model loads.
 * @throws TritonError INVALID_ARG for a default priority level outside [1, priority_levels],
 *   policies for levels that do not exist, or preferred batch sizes outside [1, max_batch_size].
 */
export function validateDynamicBatching(config: ModelConfig): void {
  const db = config.dynamic_batching;
  if (!db) return;
  const m = config.name;
  for (const p of db.preferred_batch_size) {
    if (p < 1 || p > config.max_batch_size) {
      throw invalidArg(
        `model '${m}': preferred_batch_size ${p} must be in [1, max_batch_size ${config.max_batch_size}]`,
      );
    }
  }
  if (db.priority_levels > 0) {
    if (db.default_priority_level < 1 || db.default_priority_level > db.priority_levels) {
      throw invalidArg(
        `model '${m}': default_priority_level ${db.default_priority_level} must be in [1, priority_levels ${db.priority_levels}]`,
      );
    }
  }
  for (const key of Object.keys(db.priority_queue_policy)) {
    const level = Number(key);
    if (!Number.isInteger(level) || level < 1 || level > db.priority_levels) {
      throw invalidArg(
        `model '${m}': priority_queue_policy for level ${key}, but priority_levels is ${db.priority_levels}`,
      );
    }
  }
}

/** The dynamic batcher of one model version. */
export class DynamicBatcher extends InstancePool {
  private readonly settings: ModelDynamicBatching;
  private readonly policies: ModelQueuePolicy[];
  /** One queue per priority level, then the delayed queue. */
  private readonly queues: Fifo<QueuedRequest>[];
  private readonly maxPreferred: number;
  private readonly delayMs: number;
  private readonly ragged: Set<string>;
  private readonly fixedShapes: boolean;
  /** `preserve_ordering`: admitted requests in arrival order, until their results are delivered. */
  private readonly order = new Fifo<QueuedRequest>();
  private count = 0;

  /**
   * @param config the model config (with `dynamic_batching` and `max_batch_size > 0`).
   * @param instances the scheduled model instances.
   * @param stats where executions are recorded.
   * @param clock time and timers (a virtual clock in unit tests).
   */
  constructor(
    private readonly config: ModelConfig,
    instances: ModelInstance[],
    stats: ModelStats,
    clock?: SchedulerClock,
  ) {
    super(instances, stats, clock);
    this.settings = config.dynamic_batching!;
    const levels = Math.max(1, this.settings.priority_levels);
    this.policies = Array.from(
      { length: levels },
      (_, i) =>
        this.settings.priority_queue_policy[String(i + 1)] ??
        this.settings.default_queue_policy ??
        DEFAULT_POLICY,
    );
    this.queues = Array.from({ length: levels + 1 }, () => new Fifo<QueuedRequest>());
    const preferred = this.settings.preferred_batch_size;
    this.maxPreferred = preferred.length > 0 ? Math.max(...preferred) : config.max_batch_size;
    this.delayMs = this.settings.max_queue_delay_microseconds / 1000;
    this.ragged = new Set(config.input.filter((i) => i.allow_ragged_batch).map((i) => i.name));
    // Validated requests of a model whose dims are all fixed always have matching shapes.
    this.fixedShapes = config.input.every((i) => !i.dims.includes(-1) && !i.reshape);
  }

  pending(): number {
    return this.count;
  }

  protected admit(q: QueuedRequest): TritonError | undefined {
    const req = q.request;
    let level: number;
    let timeoutUs: number | undefined;
    try {
      const p = uintParameter('priority', req.parameters.priority, this.config.name);
      timeoutUs = uintParameter('timeout', req.parameters.timeout, this.config.name);
      const levels = this.settings.priority_levels;
      level =
        levels > 0 && p !== undefined && p >= 1 && p <= levels
          ? p
          : Math.max(1, this.settings.default_priority_level);
    } catch (e) {
      return e as TritonError;
    }
    const queue = level - 1;
    const policy = this.policies[queue];
    if (policy.max_queue_size > 0 && this.queues[queue].length >= policy.max_queue_size) {
      return new TritonError('UNAVAILABLE', 'Exceeds maximum queue size', 'REJECTED');
    }
    let timeout = policy.default_timeout_microseconds;
    if (
      policy.allow_timeout_override &&
      timeoutUs !== undefined &&
      timeoutUs > 0 &&
      (timeout === 0 || timeoutUs < timeout)
    ) {
      timeout = timeoutUs;
    }
    const e: Entry = {
      queue,
      shapeKey: this.shapeKey(q),
      timer: undefined,
      result: undefined,
      queueMs: 0,
    };
    if (timeout > 0) {
      e.timer = this.clock.setTimeout(() => this.expire(q, policy), timeout / 1000, true);
      const detach = q.detach;
      q.detach = () => {
        if (e.timer) this.clock.clearTimeout(e.timer);
        detach?.();
      };
    }
    q.state = e;
    this.queues[queue].push(q);
    this.count++;
    if (this.settings.preserve_ordering) this.order.push(q);
    return undefined;
  }

  private shapeKey(q: QueuedRequest): string {
    if (this.fixedShapes) return '';
    let key = '';
    for (const t of q.request.inputs) {
      key += this.ragged.has(t.name) ? `${t.name}:*;` : `${t.name}:${t.shape.slice(1).join(',')};`;
    }
    return key;
  }

  /** A request's queue timeout: reject it, or move it behind everything else (DELAY). */
  private expire(q: QueuedRequest, policy: ModelQueuePolicy): void {
    const e = entryOf(q);
    if (!e || e.queue < 0) return;
    e.timer = undefined;
    if (policy.timeout_action === 'DELAY') {
      const delayed = this.queues.length - 1;
      if (e.queue !== delayed && this.queues[e.queue].remove(q)) {
        e.queue = delayed;
        this.queues[delayed].push(q);
        this.dispatch();
      }
      return;
    }
    this.fail(q, new TritonError('UNAVAILABLE', 'Request timeout expired', 'REJECTED'));
  }

  protected withdraw(q: QueuedRequest): boolean {
    const e = entryOf(q);
    if (!e || e.queue < 0 || !this.queues[e.queue].remove(q)) return false;
    e.queue = -1;
    this.count--;
    return true;
  }

  protected nextBatch(now: number): BatchDecision {
    const preferred = this.settings.preferred_batch_size;
    const take: QueuedRequest[] = [];
    let size = 0;
    let key: string | undefined;
    let full = false;
    let bestPreferred = 0;
    let oldest = Infinity;
    outer: for (const queue of this.queues) {
      for (const q of queue.items()) {
        const e = entryOf(q)!;
        if (key !== undefined && e.shapeKey !== key) {
          full = true;
          break outer;
        }
        if (take.length > 0 && size + q.batchSize > this.maxPreferred) {
          full = true;
          break outer;
        }
        take.push(q);
        size += q.batchSize;
        key = e.shapeKey;
        oldest = Math.min(oldest, q.enqueuedAt);
        if (preferred.includes(size)) bestPreferred = take.length;
        if (size >= this.maxPreferred) {
          full = true;
          break outer;
        }
      }
    }
    if (take.length === 0) return undefined;
    let chosen: QueuedRequest[];
    if (full) {
      chosen = take;
    } else if (bestPreferred > 0) {
      chosen = take.slice(0, bestPreferred);
    } else if (this.delayMs === 0 || now - oldest >= this.delayMs) {
      chosen = take;
    } else {
      return { wait: true, retryAt: oldest + this.delayMs };
    }
    for (const q of chosen) {
      const e = entryOf(q)!;
      this.queues[e.queue].remove(q);
      e.queue = -1;
      this.count--;
    }
    return { run: chosen };
  }

  protected takeAll(): QueuedRequest[] {
    const all = this.queues.flatMap((queue) => queue.drain());
    for (const q of all) entryOf(q)!.queue = -1;
    this.count = 0;
    return all;
  }

  protected override deliver(q: QueuedRequest, result: ExecuteResult, queueMs: number): void {
    const e = entryOf(q);
    if (!e || !this.settings.preserve_ordering) {
      q.state = undefined;
      q.done(result, queueMs);
      return;
    }
    e.result = result;
    e.queueMs = queueMs;
    // Deliver every finished response at the head of the arrival order.
    for (let head = this.order.peek(); head; head = this.order.peek()) {
      const he = entryOf(head)!;
      if (he.result === undefined) break;
      this.order.shift();
      head.state = undefined;
      head.done(he.result, he.queueMs);
    }
  }
}
