/**
 * Low-level values filed under tags, as EdgeCache reads and writes them: an entry read is
 * unwrapped and judged by its tags' records (the values of a `getMany` all together, with one
 * read of the records the isolate does not know), and a value written is wrapped with its tags
 * once each has a record. The format is `tagged-value.ts`'s; the records are `tags.ts`'s.
 */
import type { EdgeCache } from "./cache.ts";
import { isTaggedEntry, unwrapTagged, wrapTagged } from "./tagged-value.ts";
import { fileUnderTags, type TagClock, type Tagged, tagVerdict, tagVerdicts } from "./tags.ts";

/**
 * What its tags leave of a value read: its own bytes, and whether a soft purge of one of them
 * made it stale.
 *
 * @example
 * const untagged: Untagged = { bytes: valueBytes, stale: false };
 */
export interface Untagged {
  bytes: Uint8Array;
  stale: boolean;
}

/**
 * One cache's tag checks: its records (read through the cache itself), its clock, and what it
 * does with a corrupt entry (reports and drops it).
 *
 * @example
 * const checks = new TagChecks(cache, { now: Date.now, tagCheckMs: 1000 }, (made, error) => dropCorrupt(made, error));
 * const untagged = isTaggedEntry(bytes) ? await checks.untag(made, bytes) : { bytes, stale: false };
 */
export class TagChecks {
  private readonly cache: EdgeCache;
  private readonly clock: TagClock;
  private readonly dropCorrupt: (made: string, error: unknown) => void;

  constructor(cache: EdgeCache, clock: TagClock, dropCorrupt: (made: string, error: unknown) => void) {
    this.cache = cache;
    this.clock = clock;
    this.dropCorrupt = dropCorrupt;
  }

  /**
   * What its tags say of an entry filed under them: the value's own bytes, stale when a soft
   * purge of one came since it was made, or `undefined` when a purge did (or its tag block is
   * corrupt: dropped). A purged entry stays: a write replaces it.
   */
  async untag(made: string, entry: Uint8Array): Promise<Untagged | undefined> {
    const unwrapped = this.unwrap(made, entry);
    if (unwrapped === undefined) return undefined;
    const verdict = await tagVerdict(this.cache, unwrapped.tagged, this.clock);
    return verdict === "purged" ? undefined : { bytes: unwrapped.bytes, stale: verdict !== undefined };
  }

  /**
   * `untag` for the entries of a `getMany`, under `madeKeys`: each value's own bytes where its
   * tags leave it good (a stale value is a miss here), the untagged entries as they are.
   */
  async untagMany(madeKeys: readonly string[], entries: ReadonlyArray<Uint8Array | undefined>): Promise<Array<Uint8Array | undefined>> {
    const values = [...entries];
    const tagged: number[] = [];
    const taggings: Array<Readonly<Tagged>> = [];
    values.forEach((bytes, i) => {
      if (bytes === undefined || !isTaggedEntry(bytes)) return;
      const unwrapped = this.unwrap(madeKeys[i]!, bytes);
      values[i] = unwrapped?.bytes;
      if (unwrapped === undefined) return;
      tagged.push(i);
      taggings.push(unwrapped.tagged);
    });
    const verdicts = await tagVerdicts(this.cache, taggings, this.clock);
    tagged.forEach((i, n) => {
      if (verdicts[n] !== undefined) values[i] = undefined;
    });
    return values;
  }

  /** File what is made at `at` under `tags`: give each tag a record, then wrap values' bytes with them. */
  async filer(tags: readonly string[], at: number): Promise<(bytes: Uint8Array) => Uint8Array> {
    const tagged = { tags, at: await fileUnderTags(this.cache, { tags, at }, this.clock) };
    return (bytes) => wrapTagged(bytes, tagged);
  }

  /** An entry filed under tags, unwrapped; `undefined` when its tag block is corrupt (dropped). */
  private unwrap(made: string, entry: Uint8Array): ReturnType<typeof unwrapTagged> | undefined {
    try {
      return unwrapTagged(entry);
    } catch (error) {
      this.dropCorrupt(made, error);
      return undefined;
    }
  }
}
