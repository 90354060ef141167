/**
 * Triton's sequence batcher (docs/user_guide/architecture.md "Stateful Models", core
 * `src/sequence_batch_scheduler/sequence_batch_scheduler.cc`), for models with `sequence_batching`.
 *
 * - Every request carries a correlation id (`sequence_id`) and START/END flags. A sequence owns a
 *   **sequence slot** of one model instance from its START until its END; requests of one sequence
 *   run one at a time, in arrival order, on that slot. Slots are handed out lowest index first
 *   across instances; when none is free a new sequence waits in a **backlog** (first come, first
 *   served) and takes the next slot that frees.
 * - Before execution each request gets the **control inputs** (START, END, READY, CORRID) and the
 *   slot's **implicit state**; the state output of request k is the state input of request k+1.
 * - **direct** strategy: slots are the rows of an instance's batches (max_batch_size slots). A batch
 *   takes the front request of every slot up to the highest busy one; a slot with nothing waiting
 *   (or a request whose input shapes differ from the batch's) becomes a padding row with READY false
 *   whose results are dropped. With `max_queue_delay_microseconds` and `minimum_slot_utilization`,
 *   an incomplete batch waits until enough slots are ready or its oldest request waited that long.
 * - **oldest** strategy: `max_candidate_sequences` slots per instance feed a dynamic batcher with
 *   their next request each; batches form from the oldest requests (`preferred_batch_size`,
 *   `max_queue_delay_microseconds`, `preserve_ordering`), without padding.
 * - A sequence idle for `max_sequence_idle_microseconds` (1 s by default) loses its slot; a later
 *   request without START is refused with Triton's message. A cancelled request ends its sequence.
 */
import { TritonError } from '../../protocol/errors.js';
import type { ModelConfig } from '../../protocol/model-config/types.js';
import type { ModelInstance } from '../backend.js';
import type { Logger } from '../logger.js';
import type { ExecuteResult, InferenceRequest, RequestedOutput } from '../request.js';
import {
  controlTensors,
  sequenceOf,
  type CorrelationId,
  type SequenceFlags,
  type SequenceSpec,
} from '../sequence.js';
import type { ModelStats } from '../stats.js';
import type { Tensor } from '../tensor.js';
import { REAL_CLOCK, type ClockHandle, type SchedulerClock } from './clock.js';
import { DynamicBatcher } from './dynamic-batcher.js';
import { InstancePool, type BatchDecision } from './instance-pool.js';
import { Fifo } from './queue.js';
import type { QueuedRequest, Scheduler } from './scheduler.js';

/** What the sequence batcher keeps on a QueuedRequest (`state`) while it waits. */
interface SequenceEntry {
  id: CorrelationId;
  flags: SequenceFlags;
  /** The slot it was given (unset while in the backlog). */
  slot: number;
}

/** The sequence a queued request belongs to. */
function entryOf(q: QueuedRequest): SequenceEntry {
  return q.state as SequenceEntry;
}

/** A marker in a slot's queue: the sequence was force-ended (idle), release the slot here. */
const FORCE_END = Symbol('force-end');
type SlotItem = QueuedRequest | typeof FORCE_END;

/** A slot of one model instance's batch. */
interface SlotRef {
  batch: SlotBatch;
  slot: number;
}

/** The state tensors of a slot's sequence, by state input name. */
type SlotState = Map<string, { shape: number[]; data: Uint8Array }>;

/** A new sequence that waits for a slot, and the requests it sent meanwhile. */
interface Backlog {
  id: CorrelationId;
  items: QueuedRequest[];
}

function cancelled(): TritonError {
  return new TritonError('CANCELLED', 'request was cancelled');
}

/**
 * What both strategies share for the slots of one model instance: the slots' queues, sequence
 * states and the rows handed to the instance.
 */
abstract class SlotBatch {
  protected readonly queues: Fifo<SlotItem>[];
  protected readonly states: SlotState[];

  constructor(
    protected readonly owner: SequenceBatcher,
    readonly slots: number,
  ) {
    this.queues = Array.from({ length: slots }, () => new Fifo<SlotItem>());
    this.states = Array.from({ length: slots }, () => new Map());
  }

  /** Queues a request of the sequence that holds `slot`. */
  abstract add(slot: number, q: QueuedRequest): void;
  /** Ends the sequence of `slot` after what it has queued (idle timeout). */
  abstract forceEnd(slot: number): void;
  abstract pending(): number;
  abstract idle(): Promise<void>;
  abstract close(): void;
  abstract rejectQueued(error: TritonError): void;

  /**
   * The request a slot's row executes: the client's request plus the control inputs and the
   * slot's state, asking for the state outputs too.
   */
  protected rowRequest(slot: number, q: QueuedRequest): InferenceRequest {
    const spec = this.owner.spec;
    const e = entryOf(q);
    const state = this.states[slot];
    if (e.flags.start) state.clear();
    const extra = controlTensors(spec, { start: e.flags.start, end: e.flags.end, ready: true, corrid: e.id });
    for (const s of spec.states) {
      let current = state.get(s.inputName);
      if (!current) {
        current = { shape: s.initialShape, data: s.initialData };
        state.set(s.inputName, current);
      }
      extra.push({
        name: s.inputName,
        datatype: s.datatype,
        shape: spec.batched ? [1, ...current.shape] : current.shape,
        data: current.data,
      });
    }
    const req = q.request;
    return {
      ...req,
      inputs: [...req.inputs, ...extra],
      outputs: this.owner.rowOutputs(req),
      shapeKey: undefined,
    };
  }

  /**
   * A padding row for an empty slot (Triton's CopyAsNull): the template row's tensors with zero
   * bytes, READY false, correlation id 0. Its results are dropped.
   */
  protected paddingRow(template: InferenceRequest): QueuedRequest {
    const spec = this.owner.spec;
    const controls = new Set(this.owner.controlNames);
    const inputs: Tensor[] = template.inputs
      .filter((t) => !controls.has(t.name))
      .map((t) => ({ ...t, data: new Uint8Array(t.data.byteLength) }));
    inputs.push(...controlTensors(spec, { start: false, end: false, ready: false, corrid: 0 }));
    return {
      request: {
        ...template,
        id: '',
        // No correlation id, flags or other parameters (Triton's null request has none).
        parameters: {},
        inputs,
        signal: undefined,
        trace: undefined,
        responseSender: undefined,
      },
      batchSize: 1,
      enqueuedAt: 0,
      done: () => undefined,
    };
  }

  /**
   * The row that runs `q` on `slot`: its result updates the slot's state, then reaches `q` without
   * the state outputs the client did not ask for.
   */
  protected row(slot: number, q: QueuedRequest): QueuedRequest {
    const request = this.rowRequest(slot, q);
    return {
      request,
      batchSize: 1,
      enqueuedAt: q.enqueuedAt,
      done: (result, queueMs) => q.done(this.owner.finishRow(this.states[slot], q.request, result), queueMs),
    };
  }
}

/** The direct strategy on one model instance: one batch row per slot. */
class DirectBatch extends SlotBatch {
  private readonly pool: DirectPool;

  constructor(
    owner: SequenceBatcher,
    instance: ModelInstance,
    slots: number,
    stats: ModelStats,
    clock: SchedulerClock,
    private readonly delayMs: number,
    private readonly minimumUtilization: number,
  ) {
    super(owner, slots);
    this.pool = new DirectPool(this, instance, stats, clock);
  }

  add(slot: number, q: QueuedRequest): void {
    entryOf(q).slot = slot;
    this.pool.enqueue(q);
  }

  forceEnd(slot: number): void {
    this.queues[slot].push(FORCE_END);
    this.pool.count++;
    this.pool.wake();
  }

  pending(): number {
    return this.pool.pending();
  }

  idle(): Promise<void> {
    return this.pool.idle();
  }

  close(): void {
    this.pool.close();
  }

  rejectQueued(error: TritonError): void {
    this.pool.rejectQueued(error);
  }

  /** InstancePool.admit: into its slot's queue. */
  admit(q: QueuedRequest): void {
    this.queues[entryOf(q).slot].push(q);
    this.pool.count++;
  }

  /** InstancePool.withdraw (the request was cancelled): out of its queue. */
  withdraw(q: QueuedRequest): boolean {
    if (!this.queues[entryOf(q).slot].remove(q)) return false;
    this.pool.count--;
    return true;
  }

  /**
   * After a cancelled request was answered: its sequence ends, so the rest of it is cancelled too
   * and the slot released (Triton releases the slot of a cancelled sequence).
   */
  endCancelled(q: QueuedRequest): void {
    const slot = entryOf(q).slot;
    const queue = this.queues[slot];
    this.owner.forget(entryOf(q).id);
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      this.pool.count--;
      if (item !== FORCE_END) this.pool.answer(item, cancelled());
    }
    this.release(slot);
  }

  /** Releases a slot: it takes the next backlogged sequence, or becomes free. */
  private release(slot: number): void {
    this.owner.releaseSlot(this, slot);
  }

  /** Triton's DirectSequenceBatch batcher loop, once: the next batch, a wait, or nothing. */
  nextBatch(now: number): BatchDecision {
    let maxSlot = -1;
    let ready = 0;
    let oldest = Infinity;
    let template: QueuedRequest | undefined;
    for (let slot = 0; slot < this.slots; slot++) {
      const queue = this.queues[slot];
      // Force-ended sequences give their slot away first.
      while (queue.peek() === FORCE_END) {
        queue.shift();
        this.pool.count--;
        this.release(slot);
      }
      const front = queue.peek() as QueuedRequest | undefined;
      if (!front) continue;
      // The oldest front sets the input shapes of the batch, so no slot waits behind others forever.
      if (!template || front.enqueuedAt < template.enqueuedAt) template = front;
      ready++;
      maxSlot = slot;
      oldest = Math.min(oldest, front.enqueuedAt);
    }
    if (maxSlot < 0) return undefined;
    if (this.delayMs > 0 && this.minimumUtilization > 0) {
      const waited = now - oldest;
      if (waited < this.delayMs && ready / this.slots < this.minimumUtilization) {
        return { wait: true, retryAt: oldest + this.delayMs };
      }
    }
    const shapes = (r: InferenceRequest) => r.inputs.map((t) => `${t.name}:${t.shape.join(',')}`).join(';');
    const key = shapes(template!.request);
    const rows: QueuedRequest[] = [];
    let templateRow: InferenceRequest | undefined;
    const padding: number[] = [];
    for (let slot = 0; slot <= maxSlot; slot++) {
      const queue = this.queues[slot];
      const front = queue.peek() as QueuedRequest | undefined;
      if (!front || shapes(front.request) !== key) {
        padding.push(rows.length);
        rows.push(undefined as unknown as QueuedRequest);
        continue;
      }
      queue.shift();
      this.pool.count--;
      front.detach?.();
      const row = this.row(slot, front);
      templateRow ??= row.request;
      rows.push(row);
      if (entryOf(front).flags.end) this.release(slot);
    }
    for (const i of padding) rows[i] = this.paddingRow(templateRow!);
    return { run: rows };
  }

  /** Every waiting request, out of the queues (unload). */
  takeAll(): QueuedRequest[] {
    const out: QueuedRequest[] = [];
    for (const queue of this.queues) {
      for (let item = queue.shift(); item !== undefined; item = queue.shift())
        if (item !== FORCE_END) out.push(item);
    }
    this.pool.count = 0;
    return out;
  }
}

/** The InstancePool of one DirectBatch (one model instance). */
class DirectPool extends InstancePool {
  count = 0;

  constructor(
    private readonly batch: DirectBatch,
    instance: ModelInstance,
    stats: ModelStats,
    clock: SchedulerClock,
  ) {
    super([instance], stats, clock);
  }

  protected admit(q: QueuedRequest): TritonError | undefined {
    this.batch.admit(q);
    return undefined;
  }

  protected withdraw(q: QueuedRequest): boolean {
    return this.batch.withdraw(q);
  }

  /** A waiting request was cancelled: answered, then the rest of its sequence ends. */
  protected override fail(q: QueuedRequest, error: TritonError): void {
    const waiting = this.batch.withdraw(q);
    if (!waiting) return;
    q.detach?.();
    this.deliver(q, error, this.clock.now() - q.enqueuedAt);
    this.batch.endCancelled(q);
  }

  protected nextBatch(now: number): BatchDecision {
    return this.batch.nextBatch(now);
  }

  protected takeAll(): QueuedRequest[] {
    return this.batch.takeAll();
  }

  pending(): number {
    return this.count;
  }

  /** Dispatches again (a force-end marker was queued). */
  wake(): void {
    this.dispatch();
  }

  /** Answers a request that leaves the queues without running. */
  answer(q: QueuedRequest, error: TritonError): void {
    q.detach?.();
    this.deliver(q, error, this.clock.now() - q.enqueuedAt);
  }
}

/** The oldest strategy on one model instance: candidate slots feeding a dynamic batcher. */
class OldestBatch extends SlotBatch {
  private readonly batcher: DynamicBatcher;
  private readonly inFlight: boolean[];
  private count = 0;

  constructor(
    owner: SequenceBatcher,
    config: ModelConfig,
    instance: ModelInstance,
    slots: number,
    stats: ModelStats,
    clock: SchedulerClock,
  ) {
    super(owner, slots);
    this.inFlight = new Array<boolean>(slots).fill(false);
    const strategy = owner.spec.strategy as Extract<SequenceSpec['strategy'], { kind: 'oldest' }>;
    // The dynamic batcher of this instance, with the oldest strategy's settings.
    const batching: ModelConfig = {
      ...config,
      dynamic_batching: {
        preferred_batch_size: strategy.preferredBatchSizes,
        max_queue_delay_microseconds: strategy.delayMs * 1000,
        preserve_ordering: strategy.preserveOrdering,
        priority_levels: 0,
        default_priority_level: 0,
        priority_queue_policy: {},
      },
    };
    this.batcher = new DynamicBatcher(batching, [instance], stats, clock);
  }

  add(slot: number, q: QueuedRequest): void {
    entryOf(q).slot = slot;
    const signal = q.request.signal;
    if (signal) {
      const onAbort = () => this.cancel(slot, q);
      signal.addEventListener('abort', onAbort, { once: true });
      q.detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.queues[slot].push(q);
    this.count++;
    if (!this.inFlight[slot]) this.next(slot);
  }

  forceEnd(slot: number): void {
    this.queues[slot].push(FORCE_END);
    this.count++;
    if (!this.inFlight[slot]) this.next(slot);
  }

  /** A waiting request was cancelled: its sequence ends; the rest of it is cancelled too. */
  private cancel(slot: number, q: QueuedRequest): void {
    const queue = this.queues[slot];
    if (!queue.remove(q)) return;
    this.count--;
    q.done(cancelled(), 0);
    this.owner.forget(entryOf(q).id);
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      this.count--;
      if (item !== FORCE_END) {
        item.detach?.();
        item.done(cancelled(), 0);
      }
    }
    if (!this.inFlight[slot]) this.owner.releaseSlot(this, slot);
  }

  /** Triton's CompleteAndNext: issues the slot's next request, releasing the slot at its end. */
  private next(slot: number): void {
    const queue = this.queues[slot];
    for (;;) {
      this.inFlight[slot] = false;
      const front = queue.shift();
      if (front === undefined) return;
      this.count--;
      if (front === FORCE_END) {
        this.owner.releaseSlot(this, slot);
        continue;
      }
      front.detach?.();
      const row = this.row(slot, front);
      const done = row.done;
      row.done = (result, queueMs) => {
        done(result, queueMs);
        if (result instanceof TritonError && result.code === 'CANCELLED')
          this.owner.forget(entryOf(front).id);
        this.next(slot);
      };
      this.inFlight[slot] = true;
      if (entryOf(front).flags.end) this.owner.releaseSlot(this, slot);
      this.batcher.enqueue(row);
      return;
    }
  }

  pending(): number {
    return this.count + this.batcher.pending();
  }

  idle(): Promise<void> {
    return this.batcher.idle();
  }

  close(): void {
    this.batcher.close();
  }

  rejectQueued(error: TritonError): void {
    for (const queue of this.queues) {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        if (item !== FORCE_END) {
          item.detach?.();
          item.done(error, 0);
        }
      }
    }
    this.count = 0;
    this.batcher.rejectQueued(error);
  }
}

/** The sequence batcher of one model version. */
export class SequenceBatcher implements Scheduler {
  readonly controlNames: string[];
  private readonly batches: SlotBatch[];
  /** Free slots, taken lowest slot index first across instances (Triton's priority queue). */
  private readonly freeSlots: SlotRef[] = [];
  private readonly bySequence = new Map<CorrelationId, SlotRef>();
  private readonly backlogById = new Map<CorrelationId, Backlog>();
  private readonly backlogs: Backlog[] = [];
  /** When each sequence last sent a request (ms on the clock), for the idle timeout. */
  private readonly lastSeen = new Map<CorrelationId, number>();
  private reaper: ClockHandle | undefined;
  private reaperAt = Infinity;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  /**
   * @param config the model config (with `sequence_batching`).
   * @param spec what sequenceSpec read from it.
   * @param instances the scheduled model instances.
   * @param stats where executions are recorded.
   * @param clock time and timers (a virtual clock in unit tests).
   * @param logger where conflicts and force-ends are logged.
   */
  constructor(
    private readonly config: ModelConfig,
    readonly spec: SequenceSpec,
    instances: ModelInstance[],
    stats: ModelStats,
    private readonly clock: SchedulerClock = REAL_CLOCK,
    private readonly logger?: Logger,
  ) {
    const sb = config.sequence_batching!;
    this.controlNames = sb.control_input.map((c) => c.name);
    const strategy = spec.strategy;
    this.batches = instances.map((instance) =>
      strategy.kind === 'direct'
        ? new DirectBatch(
            this,
            instance,
            spec.directSlots,
            stats,
            clock,
            strategy.delayMs,
            strategy.minimumSlotUtilization,
          )
        : new OldestBatch(this, config, instance, strategy.candidates, stats, clock),
    );
    const slots = Math.max(0, ...this.batches.map((b) => b.slots));
    for (let slot = 0; slot < slots; slot++) {
      for (const batch of this.batches) if (slot < batch.slots) this.freeSlots.push({ batch, slot });
    }
  }

  enqueue(q: QueuedRequest): void {
    const req = q.request;
    let seq: ReturnType<typeof sequenceOf>;
    try {
      if (q.batchSize > 1) {
        throw new TritonError(
          'INVALID_ARG',
          `inference request to model '${this.spec.model}' must specify batch-size 1 due to requirements of sequence batcher`,
        );
      }
      seq = sequenceOf(req, this.spec);
    } catch (e) {
      q.done(e as TritonError, 0);
      return;
    }
    if (req.signal?.aborted) {
      q.done(cancelled(), 0);
      return;
    }
    const { id, start, end } = seq;
    if (this.closed && start) {
      q.done(
        new TritonError(
          'UNAVAILABLE',
          'Server is stopping, scheduler for model has stopped accepting new inference requests',
        ),
        0,
      );
      return;
    }
    let target = this.bySequence.get(id);
    const backlog = this.backlogById.get(id);
    if (!start && !target && !backlog) {
      q.done(
        new TritonError(
          'INVALID_ARG',
          `inference request for sequence ${id} to model '${this.spec.model}' must specify the START flag on the first request of the sequence`,
        ),
        0,
      );
      return;
    }
    this.lastSeen.set(id, this.clock.now());
    this.scheduleReaper();
    if (start && (target || backlog)) {
      this.logger?.warn(
        `sequence ${id} for model '${this.spec.model}' has a conflict. The previous sequence did not end before this sequence start. Previous sequence will be terminated early.`,
      );
    }
    q.state = { id, flags: { start, end }, slot: -1 } satisfies SequenceEntry;
    if (!target) {
      if (backlog) {
        this.addToBacklog(backlog, q);
        if (end) this.backlogById.delete(id);
        return;
      }
      target = this.takeFreeSlot();
      if (!target) {
        const fresh: Backlog = { id, items: [] };
        this.backlogs.push(fresh);
        this.addToBacklog(fresh, q);
        if (!end) this.backlogById.set(id, fresh);
        return;
      }
      this.bySequence.set(id, target);
    }
    if (end) this.bySequence.delete(id);
    target.batch.add(target.slot, q);
  }

  /** Queues a request of a backlogged sequence; a cancel takes it out and answers it. */
  private addToBacklog(backlog: Backlog, q: QueuedRequest): void {
    backlog.items.push(q);
    const signal = q.request.signal;
    if (!signal) return;
    const onAbort = () => {
      const i = backlog.items.indexOf(q);
      if (i < 0) return;
      backlog.items.splice(i, 1);
      q.done(cancelled(), this.clock.now() - q.enqueuedAt);
      this.checkIdle();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    q.detach = () => signal.removeEventListener('abort', onAbort);
  }

  private takeFreeSlot(): SlotRef | undefined {
    return this.freeSlots.shift();
  }

  /**
   * Triton's ReleaseSequenceSlot: the sequence of `slot` is over. The slot takes the oldest
   * backlogged sequence (its requests move to the slot's queue), or becomes free.
   */
  releaseSlot(batch: SlotBatch, slot: number): void {
    while (this.backlogs.length > 0) {
      const backlog = this.backlogs.shift()!;
      if (backlog.items.length === 0) {
        if (this.backlogById.get(backlog.id) === backlog) this.backlogById.delete(backlog.id);
        continue;
      }
      const ref = { batch, slot };
      const last = entryOf(backlog.items[backlog.items.length - 1]);
      if (this.backlogById.get(backlog.id) === backlog) this.backlogById.delete(backlog.id);
      if (!last.flags.end) this.bySequence.set(backlog.id, ref);
      for (const q of backlog.items) {
        q.detach?.();
        q.detach = undefined;
        batch.add(slot, q);
      }
      return;
    }
    this.freeSlots.push({ batch, slot });
    // Lowest slot index first, then instance order (as the batches were listed).
    this.freeSlots.sort(
      (a, b) => a.slot - b.slot || this.batches.indexOf(a.batch) - this.batches.indexOf(b.batch),
    );
    this.checkIdle();
  }

  /** A sequence ended early (cancelled): later requests of it need START again. */
  forget(id: CorrelationId): void {
    this.bySequence.delete(id);
    this.lastSeen.delete(id);
  }

  /** The outputs a row asks for: the client's (or every config output), plus the state outputs. */
  rowOutputs(req: InferenceRequest): RequestedOutput[] | undefined {
    const states = this.spec.states;
    if (states.length === 0) return req.outputs;
    const base: RequestedOutput[] = req.outputs ?? this.config.output.map((o) => ({ name: o.name }));
    const names = new Set(base.map((o) => o.name));
    return [...base, ...states.filter((s) => !names.has(s.outputName)).map((s) => ({ name: s.outputName }))];
  }

  /**
   * A row's result for its request: the state outputs become the slot's state for the sequence's
   * next request; those the client did not ask for are removed.
   */
  finishRow(state: SlotState, req: InferenceRequest, result: ExecuteResult): ExecuteResult {
    const states = this.spec.states;
    if (states.length === 0 || result instanceof TritonError) return result;
    const wanted = req.outputs
      ? new Set(req.outputs.map((o) => o.name))
      : new Set(this.config.output.map((o) => o.name));
    for (const s of states) {
      const t = result.outputs.find((o) => o.name === s.outputName);
      if (t) {
        // The state outlives the response: keep bytes of its own, without the batch dim.
        state.set(s.inputName, {
          shape: this.spec.batched ? t.shape.slice(1) : t.shape.slice(),
          data: new Uint8Array(t.data),
        });
      }
    }
    return { outputs: result.outputs.filter((o) => wanted.has(o.name)) };
  }

  /** Runs the idle check at the earliest moment a sequence can exceed its idle time. */
  private scheduleReaper(): void {
    if (this.closed) return;
    let earliest = Infinity;
    for (const t of this.lastSeen.values()) if (t < earliest) earliest = t;
    if (earliest === Infinity) return;
    const at = earliest + this.spec.idleMs;
    if (this.reaper !== undefined && this.reaperAt <= at) return;
    if (this.reaper !== undefined) this.clock.clearTimeout(this.reaper);
    this.reaperAt = at;
    this.reaper = this.clock.setTimeout(
      () => {
        this.reaper = undefined;
        this.reaperAt = Infinity;
        this.reap();
      },
      Math.max(1, at - this.clock.now()),
      false,
    );
  }

  /** Triton's reaper: sequences idle past `max_sequence_idle_microseconds` lose their slot. */
  private reap(): void {
    const now = this.clock.now();
    for (const [id, seen] of [...this.lastSeen]) {
      if (now - seen < this.spec.idleMs) continue;
      const ref = this.bySequence.get(id);
      if (ref) {
        this.logger?.verbose(1, `sequence ${id} of model '${this.spec.model}' idle too long: ending it`);
        this.bySequence.delete(id);
        this.lastSeen.delete(id);
        ref.batch.forceEnd(ref.slot);
      } else if (!this.backlogById.has(id)) {
        this.lastSeen.delete(id);
      }
    }
    this.scheduleReaper();
  }

  pending(): number {
    let n = 0;
    for (const b of this.batches) n += b.pending();
    for (const b of this.backlogs) n += b.items.length;
    return n;
  }

  async idle(): Promise<void> {
    for (;;) {
      await Promise.all(this.batches.map((b) => b.idle()));
      if (this.pending() === 0) return;
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  close(): void {
    this.closed = true;
    if (this.reaper !== undefined) this.clock.clearTimeout(this.reaper);
    this.reaper = undefined;
    for (const b of this.batches) b.close();
    this.checkIdle();
  }

  rejectQueued(error: TritonError): void {
    for (const backlog of this.backlogs.splice(0)) {
      for (const q of backlog.items) {
        q.detach?.();
        q.done(error, this.clock.now() - q.enqueuedAt);
      }
    }
    this.backlogById.clear();
    for (const b of this.batches) b.rejectQueued(error);
    this.checkIdle();
  }
}
