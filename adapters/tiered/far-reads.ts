/**
 * The tiered backend's far reads under way, by key, so that a read the bus spoke about while it
 * ran (its key, or everything) keeps nothing near: what it read may be the value just replaced.
 * Reads of other keys are not held back, however busy the bus.
 */
import type { Invalidation } from "./bus.ts";

/**
 * Where the counts stood when a read began.
 *
 * @example
 * const start: ReadStart = farReads.begin(key); // handed back to farReads.end(key, start)
 */
export interface ReadStart {
  readonly said: number;
  readonly all: number;
}

/**
 * Far reads under way, and what the bus said about their keys.
 *
 * @example
 * const start = farReads.begin(key);
 * const entry = await far.getWithTtl(key);
 * if (farReads.end(key, start) && entry) await keepNear(key, entry.value, entry.ttl);
 */
export class FarReads {
  private readonly reads = new Map<string, { running: number; said: number }>();
  private allSaid = 0;

  /** A far read of `key` begins. */
  begin(key: string): ReadStart {
    let read = this.reads.get(key);
    if (!read) this.reads.set(key, (read = { running: 0, said: 0 }));
    read.running++;
    return { said: read.said, all: this.allSaid };
  }

  /** The bus said `message`. */
  hear(message: Invalidation): void {
    if ("all" in message) this.allSaid++;
    else for (const key of message.keys) {
      const read = this.reads.get(key);
      if (read) read.said++;
    }
  }

  /** The far read of `key` begun at `start` is over: whether the bus said nothing about its key meanwhile. */
  end(key: string, start: ReadStart): boolean {
    const read = this.reads.get(key)!;
    const quiet = read.said === start.said && this.allSaid === start.all;
    if (--read.running === 0) this.reads.delete(key);
    return quiet;
  }
}
