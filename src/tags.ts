/**
 * Cache tags: pages and low-level values filed under names, so that one `purgeTag` call ends
 * everything filed under one of them (a product's pages and values, an author's), on any
 * backend, without listing keys.
 *
 * Each tag has a record in the cache, the clock time it was last purged (or first filed under),
 * and a soft purge record beside it, the time of its last soft purge (or of its record's making).
 * A record written by an earlier release, a bare time, may have none: it was never softly purged.
 * A soft purge record the store evicts is written again as of now, so a soft purge is never
 * undone: what it made stale stays stale (see `readTagRecords`). A page is
 * filed with the time its handler was called (a value, with the time its write was asked for or
 * its computation began), and stays good while each of its tags has a record older than that. So:
 * - a purge during a render ends the page that render produces (it may hold the purged data);
 * - a record the store evicts ends its pages too: they never come back, they are refilled, and
 *   the record written again is dated when it is written, never earlier (see `fileUnderTags`);
 * - nothing is deleted or listed, so a purge is one write per tag, however many pages it ends.
 * A soft purge newer than a page makes it stale from then on instead: it is served as any stale
 * page is (stale-while-revalidate, stale-if-error) until a refresh replaces it; a stale value is
 * answered by `getOrSet` while it recomputes it, and a miss for the other reads.
 *
 * Purge times and the times things are filed under are taken from `orderedNow`, so in one isolate
 * "purge, then store" never reads as one moment, even within a millisecond.
 *
 * Checking costs a read per hit of a tagged page or value (none for untagged ones). An isolate
 * trusts the records it read or wrote for `tagCheckMs` (a second), so a busy page costs one read
 * a second per tag, and a purge made elsewhere takes up to that long to reach this isolate; a
 * purge made here, through the same store, is seen at once. What the isolate knows is kept per
 * store (the backend's `identity`) and by the key the store sees, so every cache over one store
 * shares it, the per-request backends of Workers included. Times come
 * from each isolate's clock, which on Workers, Deno Deploy and servers alike is kept in sync with
 * real time.
 */
import { describe } from "./arguments.ts";
import { perStore } from "./backend.ts";
import { PurgeGuardedMemo } from "./purge-guarded-memo.ts";
import { type EdgeCache, readRecords } from "./cache.ts";
import { sha256Hex } from "./hash.ts";
import { orderedNow } from "./ordered-time.ts";
import { caches } from "./registry.ts";
import { LRUCache } from "lru-cache";

/** The longest tag accepted, in characters. */
const MAX_TAG_LENGTH = 1024;
/** Tags stored in keys as they are: printable ASCII without spaces (any store takes that), at most 100 characters. */
const PLAIN_TAG = /^[\x21-\x7e]{1,100}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\x00-\x1f\x7f]/;
/** What CDNs split tag headers on. */
const SEPARATOR = /[\s,]/;

/**
 * What is filed under tags: the tags, and the clock time its making began (a page's handler was
 * called, a value's computation began or its write was asked for).
 *
 * @example
 * const tagged: Tagged = { tags: ["product:42"], at: Date.now() };
 */
export interface Tagged {
  tags: readonly string[];
  at: number;
}

/**
 * The clock tag times are read from, and how long an isolate trusts the tag records it read.
 *
 * @example
 * const clock: TagClock = { now: Date.now, tagCheckMs: 1000 };
 */
export interface TagClock {
  now: () => number;
  tagCheckMs: number;
}

/**
 * A tag's record: when it was last purged (or first used), and when it was last purged softly.
 * `paired`: written with a soft purge record beside it (see `readTagRecords`).
 */
interface TagRecord {
  purged: number;
  soft?: number;
  paired?: true;
  /** Its soft purge record was lost and written again (at `soft`), rather than written by a soft purge. */
  restored?: true;
}

/** A tag's record as this isolate read (or wrote) it at `readAt`. */
interface KnownTag {
  record: TagRecord;
  readAt: number;
}

/**
 * What a page's tags say of it: `"purged"`, the time it went stale (a soft purge since it was
 * made), or `undefined`: good.
 *
 * @example
 * const verdict: TagVerdict = 1_767_225_600_000; // stale since a soft purge at that time
 */
export type TagVerdict = "purged" | number | undefined;

/** The records this isolate has read or written, per store, by the key the store sees. */
const memos = perStore(() => new PurgeGuardedMemo<KnownTag>(10_000));

const tagMemo = (cache: EdgeCache): PurgeGuardedMemo<KnownTag> => memos(cache.backend);

/**
 * Where this isolate's purges of tags on `cache`'s store stand: it moves with each `purgeTag`,
 * so something begun at one mark and ending at another may hold what a purge was for.
 *
 * @example
 * const mark = tagPurgeMark(cache);
 * const value = await compute();
 * const purgedMeanwhile = tagPurgeMark(cache) !== mark;
 */
export function tagPurgeMark(cache: EdgeCache): number {
  return tagMemo(cache).mark();
}

/** Whether a record this isolate knows may still be trusted at `now` (not if read "later": a clock stepped back, or another clock's reading). */
const trusted = (known: KnownTag | undefined, now: number, clock: TagClock): known is KnownTag =>
  known !== undefined && now >= known.readAt && now - known.readAt < clock.tagCheckMs;

/** The record keys of tags that had to be hashed, so a hit hashes nothing. */
const hashedKeys = new LRUCache<string, string>({ max: 10_000 });

/**
 * `value` as a list of tags, or a TypeError naming `name`: each a non-empty string of at most
 * 1024 characters without control characters (a newline would split it when stored) and, when
 * the tags are sent in a header (`sent`), without the commas and whitespace CDNs split them on.
 *
 * @example
 * checkTags(["product:42", "author:7"], "options.tags"); // ["product:42", "author:7"]
 * checkTags([""], "options.tags"); // TypeError: options.tags[0] must be a non-empty string ...
 */
export function checkTags(value: unknown, name: string, sent = false): readonly string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of tags, got ${describe(value)}`);
  value.forEach((tag: unknown, i) => {
    if (typeof tag !== "string" || tag === "" || tag.length > MAX_TAG_LENGTH || CONTROL.test(tag)) {
      throw new TypeError(`${name}[${i}] must be a non-empty string of at most ${MAX_TAG_LENGTH} characters without control characters, got ${describe(tag)}`);
    }
    if (sent && SEPARATOR.test(tag)) {
      throw new TypeError(`${name}[${i}] must hold no commas or whitespace, as options.tagHeader sends it in a header, got ${describe(tag)}`);
    }
  });
  return value as readonly string[];
}

/**
 * The value of the header that sends `tags` downstream: space-separated in Fastly's
 * `Surrogate-Key`, comma-separated elsewhere (Cloudflare's `Cache-Tag`, Akamai's `Edge-Cache-Tag`).
 *
 * @example
 * tagHeaderValue("Cache-Tag", ["product:42", "catalogue"]); // "product:42,catalogue"
 */
export function tagHeaderValue(header: string, tags: readonly string[]): string {
  return tags.join(header.toLowerCase() === "surrogate-key" ? " " : ",");
}

/** The key of a tag's record: the tag itself when any store takes it, else its SHA-256 (the two forms never meet); at once once known. */
function recordKey(tag: string): string | Promise<string> {
  if (PLAIN_TAG.test(tag)) return `tag:${tag}`;
  return hashedKeys.get(tag) ?? sha256Hex(tag).then((hash) => {
    const key = `tag#${hash}`;
    hashedKeys.set(tag, key);
    return key;
  });
}

const recordKeys = (tags: readonly string[]): Promise<string[]> => Promise.all(tags.map(recordKey));

/**
 * The key of a tag's soft purge record, beside its record's (`soft-tag:<tag>`, `soft-tag#<hash>`).
 * Kept apart so that a soft purge is one write that reads nothing: folded into the record, it
 * would have to read the purge time to keep it, and could undo a purge made in between.
 */
const softKey = (key: string): string => `soft-${key}`;

const isTime = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/** A record as written now: `[purge time, purge time]`, paired with a soft purge record that is always there. */
const pairedRecord = (purged: number): [number, number] => [purged, purged];

/**
 * A record as stored: `[purge time, purge time]`, paired with a soft purge record; or as
 * edgecache wrote it before, the purge time alone (a soft purge record beside it only once
 * softly purged). Earlier still, before soft purges had records of their own, the pair held the
 * purge and the soft purge times: such a record, read as paired, has lost a soft purge record it
 * never had, which only makes its things stale once. The pair is the form earlier releases read
 * too (as a soft purge at the purge time, which changes nothing), so a rollback is safe. Anything
 * else is none.
 */
function parseRecord(value: unknown): TagRecord | undefined {
  if (isTime(value)) return { purged: value };
  if (Array.isArray(value) && value.length === 2 && isTime(value[0]) && isTime(value[1])) return { purged: value[0], soft: value[1], paired: true };
  return undefined;
}

/**
 * What a soft purge record says when only its presence counts: written with a tag's first record
 * and before a hard purge, it makes nothing stale (the paired record's own time stands in).
 */
const NO_SOFT_PURGE = 0;

/**
 * The records of the tags whose record keys are `keys`, each with its soft purge time where there
 * is one. A paired record whose soft purge record is gone (the store evicted it) may have lost a
 * soft purge: its soft purge record is written again as of now, and the record reads as softly
 * purged then, so what it made stale never comes back fresh. It is written as the negated time,
 * which tells it from a soft purge's (earlier releases read it as no soft purge at all, as they
 * read a missing one). `lost`: the keys found so; `restored`: those whose soft purge record this
 * read wrote again (another may have done it first, at about the same time, or the write failed). Not on Workers KV (`consistent: false`, not
 * `local`): each key reaches each location in its own time, so a record may show there before
 * its soft purge record does; and KV evicts nothing, so nothing is lost.
 */
async function readTagRecords(cache: EdgeCache, keys: readonly string[], clock: TagClock): Promise<{ records: Array<TagRecord | undefined>; lost: Set<string>; restored: Set<string> }> {
  const found = await readRecords(cache, [...keys, ...keys.map(softKey)]);
  const lost = new Set<string>();
  const restored = new Set<string>();
  const { capabilities } = cache.backend;
  const evicts = capabilities?.consistent !== false || capabilities.local === true;
  const records = await Promise.all(keys.map(async (key): Promise<TagRecord | undefined> => {
    const record = parseRecord(found.get(key));
    const soft = found.get(softKey(key));
    if (record === undefined) return undefined;
    if (isTime(soft) && soft < 0) return { ...record, soft: Math.max(-soft, record.soft ?? -soft), restored: true };
    if (isTime(soft)) return { ...record, soft: Math.max(soft, record.soft ?? soft) };
    if (!record.paired || !evicts) return record;
    lost.add(key);
    const at = orderedNow(clock.now);
    if (await cache.add(softKey(key), -at, { timeout: null }).catch(() => false)) restored.add(key);
    return { ...record, soft: at, restored: true };
  }));
  return { records, lost, restored };
}

/** What one tag's record says of a page made at `at`. */
function verdictOf(record: TagRecord | undefined, at: number): TagVerdict {
  if (record === undefined || record.purged >= at) return "purged";
  return record.soft !== undefined && record.soft >= at ? record.soft : undefined;
}

/** Two tags' verdicts together: purged if either is, else stale from the earlier soft purge. */
function worse(a: TagVerdict, b: TagVerdict): TagVerdict {
  if (a === "purged" || b === "purged") return "purged";
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * What the tags of a page filed under `tagged` say of it: `"purged"` when one of them has no
 * record or was purged since the page was made, else the time of the earliest soft purge since
 * then, else `undefined`.
 *
 * @example
 * const verdict = await tagVerdict(cache, page.tagged, { now: Date.now, tagCheckMs: 1000 });
 */
export async function tagVerdict(cache: EdgeCache, tagged: Readonly<Tagged>, clock: TagClock): Promise<TagVerdict> {
  return (await tagVerdicts(cache, [tagged], clock))[0];
}

/**
 * {@link tagVerdict} for several things filed under tags at once (the values of a `getMany`):
 * the records this isolate does not know are read in one call, whatever their number.
 *
 * @example
 * const verdicts = await tagVerdicts(cache, [first.tagged, second.tagged], { now: Date.now, tagCheckMs: 1000 });
 */
export async function tagVerdicts(cache: EdgeCache, list: ReadonlyArray<Readonly<Tagged>>, clock: TagClock): Promise<TagVerdict[]> {
  const memo = tagMemo(cache);
  const now = clock.now();
  const verdicts: TagVerdict[] = [];
  /** The record keys this isolate does not know, each with the things filed under its tag. */
  let unknown: Map<string, number[]> | undefined;
  for (let n = 0; n < list.length; n++) {
    const tagged = list[n]!;
    let verdict: TagVerdict;
    for (const tag of tagged.tags) {
      const pending = recordKey(tag);
      const key = typeof pending === "string" ? pending : await pending;
      const known = memo.get(cache.makeKey(key));
      if (trusted(known, now, clock)) {
        verdict = worse(verdict, verdictOf(known.record, tagged.at));
        continue;
      }
      const waiting = (unknown ??= new Map()).get(key);
      if (waiting) waiting.push(n);
      else unknown.set(key, [n]);
    }
    verdicts.push(verdict);
  }
  if (unknown === undefined) return verdicts;
  const keys = [...unknown.keys()];
  const mark = memo.mark();
  const { records } = await readTagRecords(cache, keys, clock);
  keys.forEach((key, i) => {
    // A tag without a record is not remembered: it gets one with the next thing filed under it, and
    // a read that failed (a miss under ignoreErrors) must not leave its things purged once the store is back.
    const record = records[i];
    if (record !== undefined) memo.set(cache.makeKey(key), { record, readAt: now }, mark);
    for (const n of unknown.get(key)!) verdicts[n] = worse(verdicts[n], verdictOf(records[i], list[n]!.at));
  });
  return verdicts;
}

/**
 * A time limit put on each store call (`writes`: the call writes), as page caching limits its own.
 *
 * @example
 * const limit: StoreCallLimit = (call, writes) => deadlines.limit(cache, call, writes);
 */
export type StoreCallLimit = <T>(call: Promise<T>, writes?: boolean) => Promise<T>;

/**
 * Give each tag of something new (a page, a value, made from `tagged.at` on) a record if it has
 * none, and say when to file it as made. A missing record may be one never written or one the
 * store lost after a purge, so it is written as of now, never earlier: what was filed under the
 * lost one stays ended. The new thing is then filed as made now (after its new records), unless
 * a record says it is ended or stale: all are read again from the store first (a purge of another
 * tag may have come while it was made, and this isolate's memo not know it yet), and if any
 * does, it keeps `tagged.at`, and that verdict. Tags whose record this isolate read or wrote
 * within `tagCheckMs` are taken as having one. `limit` is put on each store call.
 *
 * @example
 * const at = await fileUnderTags(cache, { tags: ["product:42"], at: startedAt }, { now: Date.now, tagCheckMs: 1000 });
 * await cache.set(key, wrapTagged(bytes, { tags: ["product:42"], at }));
 */
export async function fileUnderTags(cache: EdgeCache, tagged: Readonly<Tagged>, clock: TagClock, limit: StoreCallLimit = (call) => call): Promise<number> {
  const memo = tagMemo(cache);
  const now = clock.now();
  const keys = await recordKeys(tagged.tags);
  /** Whether what `tagged` files is still good under the records there (a purge or soft purge since it began says not). */
  let good = true;
  const unknown: string[] = [];
  for (const key of keys) {
    const known = memo.get(cache.makeKey(key));
    if (!trusted(known, now, clock)) unknown.push(key);
    else if (verdictOf(known.record, tagged.at) !== undefined) good = false;
  }
  if (unknown.length === 0) return tagged.at;
  const mark = memo.mark();
  const { records, lost } = await limit(readTagRecords(cache, unknown, clock));
  /** The records this call wrote, by key, with their times. */
  const created = new Map<string, number>();
  await Promise.all(unknown.map(async (key, i) => {
    const made = cache.makeKey(key);
    const record = records[i];
    if (record !== undefined) {
      memo.set(made, { record, readAt: now }, mark);
      // A soft purge record lost and written again just now says nothing of this thing: only a purge does.
      if (verdictOf(lost.has(key) ? { purged: record.purged } : record, tagged.at) !== undefined) good = false;
      return;
    }
    const at = orderedNow(clock.now);
    // Its soft purge record first: a record found without one is taken for one that lost it.
    await limit(cache.add(softKey(key), NO_SOFT_PURGE, { timeout: null }), true);
    if (await limit(cache.add(key, pairedRecord(at), { timeout: null }), true)) {
      memo.set(made, { record: { purged: at, soft: at, paired: true }, readAt: now }, mark);
      created.set(key, at);
      return;
    }
    memo.delete(made); // another got there first: read the record that is there now
    good = false; // which this isolate has not seen
  }));
  if (!good || created.size + lost.size === 0) return tagged.at;
  const again = await limit(readTagRecords(cache, keys, clock));
  const unchanged = keys.every((key, i) => {
    const record = again.records[i];
    if (record === undefined || (again.lost.has(key) && !again.restored.has(key))) return false; // its soft purge record could not be written again
    const own = created.get(key);
    if (own !== undefined) return record.purged === own && (record.soft === undefined || record.soft <= own);
    // Lost and written again since (by whoever): only a soft purge that came meanwhile counts.
    if (lost.has(key)) return record.purged < tagged.at && (record.restored === true || record.soft === undefined || record.soft < tagged.at);
    return verdictOf(record, tagged.at) === undefined;
  });
  return unchanged ? orderedNow(clock.now) : tagged.at;
}

/**
 * Options of `purgeTag`. `cache` must be a cache or an alias: there is no request to call a
 * selector function with.
 *
 * @example
 * const options: PurgeTagOptions = { cache: "pages" };
 */
export interface PurgeTagOptions {
  /**
   * The cache the pages and values are stored in, or several (pages in one, values in another):
   * each is purged, side by side. Default: the `default` alias.
   */
  cache?: EdgeCache | string | ReadonlyArray<EdgeCache | string>;
  /**
   * Make the pages stale rather than end them: each is then served as a stale page is (within
   * its stale-while-revalidate window, counted from the purge, while one request refreshes it;
   * within its stale-if-error window when the handler fails) and a miss where it has none. It is
   * kept in a record of its own beside the tag's (`soft-tag:<name>`), so it never undoes a hard
   * purge made at the same moment, and checking a tag reads both. A stale value is answered by `getOrSet` while one background
   * computation replaces it, and is a miss for the other reads. Default false.
   */
  soft?: boolean;
  /** Clock in milliseconds, the same as the page wrappers', for tests. Default `Date.now`. */
  now?: () => number;
}

/**
 * End every page and value filed under any of `tags` in the cache (see the `tags` option of
 * `cachePage`, `cacheSite`, and of `set`, `add`, `setMany` and `getOrSet`): the next request for
 * each page is a miss, and so is one whose render was under way, and each value reads as
 * missing; with `soft`, make them stale instead.
 * At once in this isolate; other isolates notice within their `tagCheckMs` (a second by default),
 * once the store itself has the write (KV takes up to a minute to reach every location; the
 * Cache API is one data centre's).
 *
 * @example
 * import { cachePage, purgeTag } from "edgecache";
 *
 * const product = cachePage(600, { cache: pages, tags: (request) => [`product:${new URL(request.url).searchParams.get("id")}`] })(handler);
 * await purgeTag("product:42", { cache: pages }); // after product 42 changed
 * await purgeTag("catalogue", { cache: pages, soft: true }); // served stale while each page refreshes
 * await values.set("price:42", 19.5, { tags: ["product:42"] });
 * await purgeTag("product:42", { cache: values }); // values.get("price:42") is undefined now
 * await purgeTag("product:42", { cache: [pages, values] }); // both at once
 */
export async function purgeTag(tags: string | readonly string[], options: PurgeTagOptions = {}): Promise<void> {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  const list = checkTags(typeof tags === "string" ? [tags] : tags, "tags");
  const now = options.now ?? Date.now;
  if (typeof now !== "function") throw new TypeError(`options.now must be a function, got ${describe(now)}`);
  const soft = options.soft ?? false;
  if (typeof soft !== "boolean") throw new TypeError(`options.soft must be true or false, got ${describe(soft)}`);
  const selected = options.cache ?? "default";
  const targets = Array.isArray(selected) ? selected.map((one, i) => selectTagCache(one, `options.cache[${i}]`)) : [selectTagCache(selected, "options.cache")];
  const keys = await recordKeys(list);
  const written = soft ? keys.map(softKey) : keys;
  const failures = await Promise.all(targets.map(async (cache) => {
    // Seen at once here: read again on the next hit, and not from a read begun before the write.
    // A hard purge writes a paired record, and its soft purge record where there is none yet (an
    // add: it never undoes a soft purge made meanwhile); a soft purge writes only the latter.
    const write = async () => {
      // First (see `fileUnderTags`); one that fails is written again when a read finds it missing.
      if (!soft) await Promise.all(keys.map((key) => cache.add(softKey(key), NO_SOFT_PURGE, { timeout: null }).catch(() => false)));
      // Dated once those are done, right before its write. A filer that reads a new tag's records
      // while this write is under way still files as made after it (see `fileUnderTags`): the
      // window is this one write, not the adds before it too.
      const at = orderedNow(now);
      return cache.setMany(written.map((key) => [key, soft ? at : pairedRecord(at)] as const), { timeout: null });
    };
    const failed = new Set(await tagMemo(cache).purging(keys.map((key) => cache.makeKey(key)), write));
    const unpurged = list.filter((_, i) => failed.has(written[i]!));
    return unpurged.length > 0 ? `the ${cache.backend.name} backend, so these tags were not purged there: ${unpurged.join(", ")}` : undefined;
  }));
  const failed = failures.filter((failure) => failure !== undefined);
  if (failed.length > 0) throw new Error(`purgeTag could not write to ${failed.join("; nor to ")}`);
}

function selectTagCache(selector: unknown, name: string): EdgeCache {
  if (typeof selector === "string") return caches.get(selector);
  if (selector !== null && typeof selector === "object" && typeof (selector as EdgeCache).setMany === "function") return selector as EdgeCache;
  throw new TypeError(`${name} must be an EdgeCache or an alias (purgeTag has no request to call a selector function with), got ${describe(selector)}`);
}
