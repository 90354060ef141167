/**
 * Triton's default scheduler: no batching across requests; each request executes alone, in arrival
 * order, on the first free model instance ("Default Scheduler" in Triton's
 * docs/user_guide/model_configuration.md).
 */
import type { TritonError } from '../errors.js';
import { InstancePool, type BatchDecision } from './instance-pool.js';
import { Fifo } from './queue.js';
import type { QueuedRequest } from './scheduler.js';

/** One request per execution, first come first served. */
export class DefaultScheduler extends InstancePool {
  private readonly queue = new Fifo<QueuedRequest>();

  protected admit(q: QueuedRequest): TritonError | undefined {
    this.queue.push(q);
    return undefined;
  }

  protected withdraw(q: QueuedRequest): boolean {
    return this.queue.remove(q);
  }

  protected nextBatch(): BatchDecision {
    const q = this.queue.shift();
    return q ? { run: [q] } : undefined;
  }

  protected takeAll(): QueuedRequest[] {
    return this.queue.drain();
  }

  pending(): number {
    return this.queue.length;
  }
}
