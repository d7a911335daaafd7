/**
 * A memo of records read from a store (tag records, vary indexes) that a purge in this isolate
 * empties at once, and that a read begun before the purge cannot fill again with what it read:
 * a purge moves the memo's generation on before its write and again after it, and a record is
 * kept only if the generation has not moved since its read began.
 */
import { LRUCache } from "lru-cache";

/**
 * Records by key, at most `max`, guarded against reads that a purge overtook.
 *
 * @example
 * const memo = new PurgeGuardedMemo<number>(1000);
 * const mark = memo.mark();
 * const record = await readRecord(key);
 * memo.set(key, record, mark); // dropped if a purge came meanwhile
 */
export class PurgeGuardedMemo<V extends NonNullable<unknown>> {
  private readonly entries: LRUCache<string, V>;
  private generation = 0;

  constructor(max: number) {
    this.entries = new LRUCache<string, V>({ max });
  }

  /** How many records are kept. */
  get size(): number {
    return this.entries.size;
  }

  /** Where the memo stands: take it before reading what `set` will keep. */
  mark(): number {
    return this.generation;
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  /** Keep `value`, read since `mark`, unless a purge came since. */
  set(key: string, value: V, mark: number): void {
    if (mark === this.generation) this.entries.set(key, value);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Forget `keys` while `write` (a purge's) runs: no read begun before it ends is kept. */
  async purging<T>(keys: readonly string[], write: () => Promise<T>): Promise<T> {
    this.generation++;
    for (const key of keys) this.entries.delete(key);
    try {
      return await write();
    } finally {
      this.generation++;
      for (const key of keys) this.entries.delete(key);
    }
  }
}
