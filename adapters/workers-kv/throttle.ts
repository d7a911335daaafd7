/**
 * Workers KV answers `429 Too Many Requests` to a second write of the same key within a second.
 * A WriteThrottle keeps, per isolate and namespace, when each key was last written: a write
 * inside the key's one-second window waits for the window to end, writes that pile up meanwhile
 * are coalesced (the latest wins, and every caller resolves when it is sent), and reads in this
 * isolate see the waiting value so the delay never shows.
 */

/** A write as the throttle holds it: what reads see while it waits, and how to send it. */
export interface PendingWrite<T> {
  /** What reads in this isolate see while the write waits (for a delete: `undefined`). */
  readonly entry: T | undefined;
  send(): Promise<void>;
}

interface Slot<T> {
  /** `Date.now()` when the last write of the key was sent. */
  sentAt: number;
  waiting?: PendingWrite<T>;
  /** Settles when the waiting write has been sent. */
  sent?: Promise<void>;
}

/** Slots whose window has passed are dropped once there are this many. */
const SWEEP_AT = 256;

/**
 * One-write-per-interval per key, with coalescing. Timing is real time (`Date.now`, `setTimeout`),
 * whatever clock the entries' expiry uses.
 *
 * @example
 * const throttle = new WriteThrottle<Uint8Array>(1000);
 * await throttle.write("k", { entry: bytes, send: () => kv.put("k", bytes) }); // sent at once
 * const later = throttle.write("k", { entry: other, send: () => kv.put("k", other) }); // sent a second later
 * throttle.waiting("k")?.entry; // other
 */
export class WriteThrottle<T> {
  private readonly slots = new Map<string, Slot<T>>();
  private readonly intervalMs: number;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** The write of `key` waiting for its window, if any. */
  waiting(key: string): PendingWrite<T> | undefined {
    return this.slots.get(key)?.waiting;
  }

  /** Keys with a write waiting. */
  waitingKeys(): string[] {
    return [...this.slots].filter(([, slot]) => slot.waiting !== undefined).map(([key]) => key);
  }

  /** Send `write` now if `key`'s window allows, else when it ends (coalesced with later writes). */
  write(key: string, write: PendingWrite<T>): Promise<void> {
    const now = Date.now();
    const slot = this.slots.get(key);
    if (slot?.sent) {
      slot.waiting = write;
      return slot.sent;
    }
    if (slot === undefined || now - slot.sentAt >= this.intervalMs) {
      if (this.slots.size >= SWEEP_AT) this.sweep(now);
      this.slots.set(key, { sentAt: now });
      return write.send();
    }
    slot.waiting = write;
    slot.sent = new Promise<void>((resolve) => setTimeout(resolve, slot.sentAt + this.intervalMs - now)).then(() => {
      const latest = slot.waiting!;
      slot.waiting = undefined;
      slot.sent = undefined;
      slot.sentAt = Date.now();
      return latest.send();
    });
    return slot.sent;
  }

  /** Settles when every write waiting now has been sent (or has failed). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.slots.values()].map((slot) => slot.sent));
  }

  private sweep(now: number): void {
    for (const [key, slot] of this.slots) {
      if (slot.sent === undefined && now - slot.sentAt >= this.intervalMs) this.slots.delete(key);
    }
  }
}
