/**
 * The records `purgePage` leaves: when the page under a base key was last purged, read by the
 * renders that were under way (the engine) and by the vary index's writers (keys.ts).
 */
import { type EdgeCache, readRecord } from "../cache.ts";

/**
 * How long a purge's record is kept: longer than any render still under way when it came.
 *
 * @example
 * await cache.set(purgeRecordKey(base), at, { timeout: PURGE_RECORD_SECONDS });
 */
export const PURGE_RECORD_SECONDS = 600;

/**
 * Where the time of the last purge of the page under `base` is kept.
 *
 * @example
 * await cache.set(purgeRecordKey(base), orderedNow(Date.now), { timeout: PURGE_RECORD_SECONDS });
 */
export const purgeRecordKey = (base: string): string => `purged:${base}`;

/**
 * When the page under `base` was last purged, if within the last ten minutes.
 *
 * @example
 * const purgedAt = await lastPurgedAt(cache, base);
 * if (purgedAt !== undefined && purgedAt >= started) return; // rendered before the purge: drop it
 */
export async function lastPurgedAt(cache: EdgeCache, base: string): Promise<number | undefined> {
  const purgedAt: unknown = await readRecord(cache, purgeRecordKey(base));
  return typeof purgedAt === "number" ? purgedAt : undefined;
}
