/**
 * Workers KV answers `429 Too Many Requests` to a second write of the same key within a second.
 * A WriteThrottle keeps, per isolate and namespace, when each key was last written: a write
 * inside the key's one-second window, or while the key's last write is still uploading, waits
 * for both to end; writes that pile up meanwhile are coalesced (the latest is sent), and reads in
 * this isolate see the waiting value so the delay never shows. Every caller of a coalesced write
 * settles as the send of the latest does.
 *
 * On Workers a timer and a promise belong to the request that made them, and are dropped when it
 * ends. So each caller of a held-back write waits on timers of its own, and the first still
 * waiting when the window opens sends the latest write from its own request: a request that ends
 * before then leaves nobody waiting on it. If every caller's request has ended, the write is lost
 * (as any write not given to `waitUntil` may be on Workers), and reads stop seeing it once
 * it is overdue.
 */
import { withDeadline } from "../../src/deadline.ts";

/** A write as the throttle holds it: what reads see while it waits, and how to send it. */
export interface PendingWrite<T> {
  /** What reads in this isolate see while the write waits (for a delete: `undefined`). */
  readonly entry: T | undefined;
  send(): Promise<void>;
}

/** The writes of a key coalesced into one send: the latest of them goes out, and all settle with it. */
interface Batch {
  /** The send, once it has gone out. */
  sent?: Promise<void>;
}

/** A write held back: by when it counts as abandoned, and the batch it is coalesced into. */
interface Held<T> {
  readonly write: PendingWrite<T>;
  /** `Date.now()` after which no caller is waiting for it any more (their requests ended). */
  readonly overdueAt: number;
  readonly batch: Batch;
  /** Its caller's wait, settled once its batch has gone out and settled. */
  done?: Promise<void>;
}

interface Slot<T> {
  /** `Date.now()` when the last write of the key was sent. */
  sentAt: number;
  /** The last write sent, until it settles: the next may not overtake it (a slow upload of a large value). */
  sending?: Promise<void>;
  /** The latest write held back, if any. */
  held?: Held<T>;
}

/** Slots with nothing waiting or under way, whose window has passed, are dropped once there are this many. */
const SWEEP_AT = 256;

/**
 * How long a held-back write waits for the write before it to settle, at most: that write may
 * belong to a request that has ended, and so never settle here.
 */
const SETTLE_WAIT_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise` settled, or `ms` passed: whichever comes first, with no error. */
const settledWithin = (promise: Promise<unknown> | undefined, ms: number): Promise<unknown> =>
  promise === undefined ? Promise.resolve() : withDeadline(promise.catch(() => {}), Math.max(0, ms), () => undefined);

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
  private readonly refusedForAnother: (error: unknown) => boolean;

  /**
   * `refusedForAnother`: whether a send failed because a writer this throttle cannot see (another
   * isolate) wrote the key within the interval; such a send is made once more an interval later,
   * and counts as the key's last write from then.
   */
  constructor(intervalMs: number, refusedForAnother: (error: unknown) => boolean = () => false) {
    this.intervalMs = intervalMs;
    this.refusedForAnother = refusedForAnother;
  }

  /** The write of `key` waiting for its window, if any (not one whose callers all stopped waiting). */
  waiting(key: string): PendingWrite<T> | undefined {
    const slot = this.slots.get(key);
    return slot && this.heldNow(slot, Date.now())?.write;
  }

  /** Keys with a write waiting. */
  waitingKeys(): string[] {
    const now = Date.now();
    return [...this.slots].filter(([, slot]) => this.heldNow(slot, now) !== undefined).map(([key]) => key);
  }

  /**
   * Send `write` now if `key`'s window allows and no write of it is under way; else hold it until
   * then, coalesced with the writes that pile up meanwhile: the first of their callers still
   * waiting sends the latest, and every one of them settles as that send does.
   */
  write(key: string, write: PendingWrite<T>): Promise<void> {
    const now = Date.now();
    let slot = this.slots.get(key);
    if (slot === undefined) {
      if (this.slots.size >= SWEEP_AT) this.sweep(now);
      this.slots.set(key, (slot = { sentAt: -Infinity }));
    }
    const before = this.heldNow(slot, now);
    if (before === undefined && slot.sending === undefined && now - slot.sentAt >= this.intervalMs) return this.send(slot, write);
    const held: Held<T> = { write, overdueAt: Math.max(now, slot.sentAt + this.intervalMs) + SETTLE_WAIT_MS + this.intervalMs, batch: before?.batch ?? {} };
    slot.held = held;
    return (held.done = this.sendWhenDue(slot, held));
  }

  /** Settles when every write waiting now has been sent (or has failed, or been given up by its callers). */
  async idle(): Promise<void> {
    const now = Date.now();
    await Promise.all([...this.slots.values()].map(async (slot) => {
      const held = this.heldNow(slot, now);
      if (held) await settledWithin(held.done, held.overdueAt - now);
      await settledWithin(slot.sending, SETTLE_WAIT_MS);
    }));
  }

  /**
   * Wait, on this caller's own timers, for the window to open and the write before to settle;
   * then send the latest write held, unless a caller that woke first has sent it.
   */
  private async sendWhenDue(slot: Slot<T>, held: Held<T>): Promise<void> {
    for (;;) {
      // Its batch went out: this caller's write is done when that send is (or has failed with it),
      // though not after SETTLE_WAIT_MS: it may be another request's, never to settle here.
      if (held.batch.sent) return withDeadline(held.batch.sent, SETTLE_WAIT_MS, () => undefined);
      const wait = slot.sentAt + this.intervalMs - Date.now();
      if (wait > 0) {
        await sleep(wait);
      } else if (slot.sending !== undefined) {
        const sending = slot.sending;
        await settledWithin(sending, SETTLE_WAIT_MS);
        if (slot.sending === sending) slot.sending = undefined; // it never settled here: go on without it
      } else {
        break;
      }
    }
    // The latest write held since the last send: of this batch, or of a later one if this one went
    // overdue meanwhile (then that later write replaces this one).
    const latest = slot.held ?? held;
    slot.held = undefined;
    return (latest.batch.sent = held.batch.sent = this.send(slot, latest.write));
  }

  private send(slot: Slot<T>, write: PendingWrite<T>): Promise<void> {
    slot.sentAt = Date.now();
    const sending = write.send().catch(async (error: unknown) => {
      if (!this.refusedForAnother(error)) throw error;
      await sleep(this.intervalMs);
      slot.sentAt = Date.now(); // the next write of the key waits for this one's interval
      return write.send();
    });
    slot.sending = sending;
    const settled = (): void => {
      if (slot.sending === sending) slot.sending = undefined;
    };
    sending.then(settled, settled);
    return sending;
  }

  /** The write held back in `slot` at `now`, unless every caller waiting for it has stopped. */
  private heldNow(slot: Slot<T>, now: number): Held<T> | undefined {
    if (slot.held !== undefined && now > slot.held.overdueAt) slot.held = undefined;
    return slot.held;
  }

  private sweep(now: number): void {
    for (const [key, slot] of this.slots) {
      if (this.heldNow(slot, now) === undefined && slot.sending === undefined && now - slot.sentAt >= this.intervalMs) this.slots.delete(key);
    }
  }
}
