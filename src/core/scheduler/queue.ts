/** A FIFO queue with O(1) push and shift (an array with a moving head, compacted when half empty). */
export class Fifo<T> {
  private list: T[] = [];
  private head = 0;

  /** Number of queued items. */
  get length(): number {
    return this.list.length - this.head;
  }

  /** Appends an item. */
  push(item: T): void {
    this.list.push(item);
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.head < this.list.length ? this.list[this.head] : undefined;
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.head >= this.list.length) return undefined;
    const item = this.list[this.head];
    this.list[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.list.length) {
      this.list = this.list.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes the first item equal to `item`; true when found. O(1) for the oldest item. */
  remove(item: T): boolean {
    const i = this.list.indexOf(item, this.head);
    if (i < 0) return false;
    if (i === this.head) this.shift();
    else this.list.splice(i, 1);
    return true;
  }

  /** The queued items, oldest first (do not modify the queue while iterating). */
  *items(): IterableIterator<T> {
    for (let i = this.head; i < this.list.length; i++) yield this.list[i];
  }

  /** Removes and returns everything. */
  drain(): T[] {
    const out = this.list.slice(this.head);
    this.list = [];
    this.head = 0;
    return out;
  }
}
