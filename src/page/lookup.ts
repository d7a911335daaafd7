/**
 * Finding a request's stored page (FetchFromCacheMiddleware's half of the engine): under the URL's
 * base key, or under a variant key when the page varies; for HEAD, the GET page first. A tagged
 * page found is checked against its tags' purge records. Store failures are reported and come
 * back as a `miss`, never as an error.
 */
import { type EdgeCache, isStreamedBytes, readSharedStreamed } from "../cache.ts";
import { CorruptEntryError } from "../errors.ts";
import { release } from "./answer.ts";
import { baseKey, variantKey } from "./keys.ts";
import type { PageErrorContext, ResolvedPageOptions } from "./options.ts";
import { type DecodedPage, decodeStoredPage, isLaterPageFormat, isVaryIndex, staleFrom } from "./stored.ts";
import { type Tagged, type TagVerdict, tagVerdict } from "../tags.ts";
import { varyMemo } from "./vary-memo.ts";

/**
 * The result of looking a request up. `missKey` is the key that missed (for collapsing); `stale`:
 * a tag purged its page, or made it stale.
 *
 * @example
 * const { page, missKey, fwd } = await lookups.find(cache, request, "GET");
 */
export interface Lookup {
  page?: DecodedPage;
  missKey: string;
  fwd: "uri-miss" | "vary-miss" | "stale" | "miss";
  /** A HEAD request's lookup found the GET page: refreshing it renders the GET page. */
  fromGet?: true;
}

/** How the engine bounds a store call in time (see its `timeoutMs`). */
export type Limit = <T>(cache: EdgeCache, call: Promise<T>) => Promise<T>;

/** How the engine reports a failure it turned into a miss. */
export type Report = (error: unknown, operation: PageErrorContext["operation"], request: Request) => void;

/**
 * One page-caching wrapper's way of finding pages: its key settings and clock, and the engine's
 * time limit and failure report.
 *
 * @example
 * const lookups = new PageLookups(options, (cache, call) => call, (error) => console.error(error));
 * const lookup = await lookups.find(cache, request, request.method);
 */
export class PageLookups {
  private readonly options: ResolvedPageOptions;
  private readonly limit: Limit;
  private readonly report: Report;

  constructor(options: ResolvedPageOptions, limit: Limit, report: Report) {
    this.options = options;
    this.limit = limit;
    this.report = report;
  }

  /**
   * Find the page for a request: the GET page, or for HEAD the GET page, unless it is missing, or
   * too old to answer even while refreshed (past stale-while-revalidate) and a fresh HEAD page
   * stored since is there (by a HEAD request that found it so). Never throws.
   */
  find(cache: EdgeCache, request: Request, method: string): Promise<Lookup> {
    const get = this.findFor(cache, request, "GET");
    return method === "HEAD" ? get.then((found) => this.headOrGet(cache, request, found)) : get;
  }

  private async headOrGet(cache: EdgeCache, request: Request, get: Lookup): Promise<Lookup> {
    if (!get.page) return this.findFor(cache, request, "HEAD");
    if (this.options.now() < get.page.staleWhileRevalidateUntil) return { ...get, fromGet: true };
    const head = await this.findFor(cache, request, "HEAD");
    if (head.page && this.options.now() < head.page.freshUntil && head.page.storedAt >= get.page.storedAt) {
      release(get.page);
      return head;
    }
    release(head.page);
    return { ...get, fromGet: true };
  }

  /** Find the page stored for `method`: under the base key, or under a variant key when it varies. Never throws. */
  private async findFor(cache: EdgeCache, request: Request, method: string): Promise<Lookup> {
    try {
      const key = baseKey(request, method, this.options);
      const base = typeof key === "string" ? key : await key;
      const memo = varyMemo(cache);
      const known = memo.get(base);
      if (known && known.until > this.options.now()) return await this.findVariant(cache, request, base, known.vary, known.epoch);
      const mark = memo.mark();
      const value = await this.read(cache, base);
      const page = decodeStoredPage(value);
      if (page) return page.tagged ? await this.unlessPurged(cache, page, page.tagged, base, "uri-miss") : { page, missKey: base, fwd: "uri-miss" };
      if (isVaryIndex(value)) {
        memo.set(base, { vary: value.vary, epoch: value.epoch, until: this.options.now() + this.options.tagCheckMs }, mark);
        return await this.findVariant(cache, request, base, value.vary, value.epoch);
      }
      this.dropIfCorrupt(cache, base, value, request);
      return { missKey: base, fwd: "uri-miss" };
    } catch (error) {
      this.report(error, "lookup", request);
      return { fwd: "miss", missKey: "" };
    }
  }

  /** What is stored under `key`, within the time limit; a streamed page that comes too late is let go of. */
  private read(cache: EdgeCache, key: string): Promise<unknown> {
    const reading = readSharedStreamed(cache, key);
    const limited = this.limit(cache, reading);
    if (limited === reading) return reading; // no time limit (a local store): nothing comes too late
    return limited.catch((error: unknown) => {
      reading.then((late) => {
        if (isStreamedBytes(late)) late.rest.cancel().catch(() => {});
      }, () => {});
      throw error;
    });
  }

  private async findVariant(cache: EdgeCache, request: Request, base: string, vary: readonly string[], epoch: string | undefined): Promise<Lookup> {
    const key = await variantKey(base, request, vary, this.options, epoch);
    const value = await this.read(cache, key);
    const page = decodeStoredPage(value);
    if (page) return page.tagged ? this.unlessPurged(cache, page, page.tagged, key, "vary-miss") : { page, missKey: key, fwd: "vary-miss" };
    this.dropIfCorrupt(cache, key, value, request);
    return { missKey: key, fwd: "vary-miss" };
  }

  /**
   * A tagged page found under `key`, unless a tag of its has been purged since it was made (then a
   * `stale` miss); after a soft purge since, the page as stale from then on (labelled `stale` too).
   */
  private async unlessPurged(cache: EdgeCache, page: DecodedPage, tagged: Readonly<Tagged>, key: string, fwd: Lookup["fwd"]): Promise<Lookup> {
    let verdict: TagVerdict;
    try {
      verdict = await this.limit(cache, tagVerdict(cache, tagged, this.options));
    } catch (error) {
      release(page);
      throw error;
    }
    if (verdict === undefined) return { page, missKey: key, fwd };
    if (verdict !== "purged") return { page: staleFrom(page, verdict), missKey: key, fwd: "stale" };
    release(page);
    return { missKey: key, fwd: "stale" };
  }

  /** Report and delete `value`, found under `key`, when it is neither missing nor a page a later release wrote: it is corrupt. */
  private dropIfCorrupt(cache: EdgeCache, key: string, value: unknown, request: Request): void {
    if (value === undefined || isLaterPageFormat(value)) return;
    this.report(new CorruptEntryError(`the entry under ${key} is not a stored page`), "lookup", request);
    cache.delete(key).catch((error: unknown) => this.report(error, "store", request));
  }
}
