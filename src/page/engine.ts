/**
 * The fetch/update engine behind `cachePage` and `cacheSite`: Django's FetchFromCacheMiddleware
 * and UpdateCacheMiddleware for one handler, plus what Django lacks: streaming misses,
 * collapsed concurrent misses, stale-while-revalidate / stale-if-error, backend time limits, and
 * failures that are misses (reported to `onError`) instead of errors.
 */
import { type EdgeCache, readSharedStreamed, shortestLife, writeStreamed } from "../cache.ts";
import { compileCacheControl, markPrivate, parseDeltaSeconds } from "../http/cache-control.ts";
import { conditionalRequestHeaders } from "../http/conditional.ts";
import { editHeaders } from "../http/headers.ts";
import { patchResponseHeaders } from "../http/response-headers.ts";
import type { Handler } from "../types.ts";
import { PageAnswers, release } from "./answer.ts";
import type { CacheOutcome } from "./cache-status.ts";
import { captureBody, type CapturedResponse } from "./capture.ts";
import { baseKey, variantKey, varyIndexFor, varyNames } from "./keys.ts";
import type { PageErrorContext, ResolvedPageOptions } from "./options.ts";
import { identityOf } from "../backend.ts";
import { ErrorBackoff } from "../backoff.ts";
import { StoreDeadlines } from "./deadlines.ts";
import { withDeadline } from "../deadline.ts";
import { claimFill, type Fill, Fills, isFilledFor, releaseFill, whileFilling } from "./fills.ts";
import { DEFAULT_COLLAPSE_MS, lockWaitMs, pollsFor, sharesLocks } from "../locks.ts";
import { orderedNow } from "../ordered-time.ts";
import { decide, type Decision, type TimeoutRule } from "./policy.ts";
import { lastPurgedAt } from "./purge-records.ts";
import { selectCache } from "./select.ts";
import { type Lookup, PageLookups } from "./lookup.ts";
import { type DecodedPage, decodeStoredPage, isVaryIndex, type StoredPage, storedPageHead, UNSTORED_HEADERS } from "./stored.ts";
import { checkTags, fileUnderTags, type Tagged, tagHeaderValue } from "../tags.ts";
import { varyMemo } from "./vary-memo.ts";

/** Marks the answer that carries the cookies `stripSetCookie` kept out of the stored page. */
/**
 * Where a stale page's refresh runs its handler: in the background, or before the stale page is
 * answered, for handlers that can only run within their request (Hono's chain, `edgecache/hono`).
 */
export type RefreshMode = "background" | "in-request";

/**
 * One page-caching wrapper's state: its options, the vary lists it has learned, and the misses
 * it is filling. `wrap` applies it to a handler.
 *
 * @example
 * const engine = new PageCacheEngine({ kind: "page", timeout: 900 }, resolvePageOptions({}));
 * export default { fetch: engine.wrap(handler) };
 */
export class PageCacheEngine {
  private readonly fills = new Fills();
  private readonly backoff: ErrorBackoff;
  private readonly deadlines: StoreDeadlines;
  private readonly answers: PageAnswers;
  private readonly lookups: PageLookups;
  private readonly staleDirectives: ((headers: Headers) => void) | undefined;
  /** The Cache-Status header's name as stored headers spell it (lower case), if it is sent. */
  private readonly statusHeader: string | undefined;
  private readonly rule: TimeoutRule;
  private readonly options: ResolvedPageOptions;
  private readonly refresh: RefreshMode;
  /** Whether `onError` has been told that on Workers, without a `waitUntil`, nothing is stored. */
  private toldNoWaitUntil = false;

  constructor(rule: TimeoutRule, options: ResolvedPageOptions, refresh: RefreshMode = "background") {
    this.rule = rule;
    this.options = options;
    this.refresh = refresh;
    this.backoff = new ErrorBackoff(options.errorBackoffMs);
    this.answers = new PageAnswers(options);
    this.deadlines = new StoreDeadlines(options);
    this.lookups = new PageLookups(options, (cache, call) => this.deadlines.limit(cache, call), (error, operation, request) => this.report(error, operation, request));
    this.statusHeader = options.cacheStatus === false ? undefined : options.cacheStatus.toLowerCase();
    const { staleWhileRevalidate, staleIfError } = options;
    this.staleDirectives = staleWhileRevalidate || staleIfError
      ? compileCacheControl({ staleWhileRevalidate: staleWhileRevalidate || undefined, staleIfError: staleIfError || undefined })
      : undefined;
  }

  /** Wrap `handler`, keeping its type and passing its extra arguments through. */
  wrap<H extends Handler>(handler: H): H {
    const handle = this.handle.bind(this);
    return function (this: unknown, request: Request, ...args: unknown[]) {
      return handle((req) => handler.apply(this, [req, ...args]), request, args);
    } as H;
  }

  private async handle(run: (request: Request) => Response | Promise<Response>, request: Request, args: readonly unknown[]): Promise<Response> {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") return this.answers.label(await run(request), { hit: false, fwd: "method" }, request);
    if (this.options.bypass && this.bypasses(request)) return this.answers.label(await run(request), { hit: false, fwd: "bypass" }, request);
    let cache: EdgeCache;
    try {
      cache = selectCache(this.options.cache, request, args);
    } catch (error) {
      this.report(error, "select", request);
      return this.answers.label(await run(request), { hit: false, fwd: "miss", detail: "no-cache" }, request);
    }

    if (!this.deadlines.allows(cache)) {
      return this.answers.label(await run(request), { hit: false, fwd: "miss", detail: "store-down" }, request);
    }
    let lookup = await this.lookups.find(cache, request, method);
    // Inside another layer over the same store and key (cachePage within cacheSite), which is
    // filling this page for this very request: render it (see `isFilledFor`).
    const nested = lookup.fwd !== "miss" && isFilledFor(this, request, cache, lookup.missKey);
    if (nested) {
      release(lookup.page);
      lookup = { missKey: lookup.missKey, fwd: lookup.fwd };
    }
    const authorized = request.headers.has("authorization");
    const usable = (page: DecodedPage | undefined): page is DecodedPage => page !== undefined && (page.shareable || !authorized);
    let now = this.options.now();
    if (usable(lookup.page)) {
      if (now < lookup.page.freshUntil) {
        if (!this.refreshAheadDue(lookup.page, now)) return this.answers.hit(request, method, lookup.page, now);
        void this.revalidate(cache, run, request, lookup, args);
        return this.answers.hit(request, method, lookup.page, now, "refreshing");
      }
      if (now < lookup.page.staleWhileRevalidateUntil) {
        const handled = this.revalidate(cache, run, request, lookup, args);
        // Refreshed in this request, the handler may have said the page is gone: that is the answer.
        const gone = this.refresh === "in-request" ? await handled : undefined;
        if (gone) {
          release(lookup.page);
          return gone;
        }
        return this.answers.hit(request, method, lookup.page, now, "revalidating");
      }
      if (this.backingOff(cache, lookup.page, lookup.missKey, now)) return this.answers.hit(request, method, lookup.page, now, "stale-if-error");
    }

    // Another request in this isolate is already filling this page: wait for it, then look again.
    // A fill that outlasts collapseMs may never end: on Workers its request may have ended (a
    // client that went away), and its work with it. The first request to find it overdue then
    // takes it over, and the others wait for that one.
    const collapseMs = this.options.collapseMs;
    const pending = lookup.fwd !== "miss" && !nested && collapseMs > 0 ? this.fills.pending(cache, lookup.missKey, collapseMs) : undefined;
    let takeover: Fill | undefined;
    if (pending) {
      for (let waited = pending; ;) {
        const overdue = await withDeadline(waited.done.then(() => false), Math.max(0, waited.began + collapseMs - performance.now()), () => true);
        if (!overdue) break;
        const current = this.fills.pending(cache, lookup.missKey);
        if (current && current !== waited) {
          waited = current; // taken over by another request meanwhile
          continue;
        }
        takeover = this.startFill(cache, lookup.missKey, request); // at once: the others find it
        break;
      }
      const overdueKey = lookup.missKey;
      release(lookup.page);
      lookup = await this.lookups.find(cache, request, method);
      now = this.options.now();
      if (takeover && (lookup.missKey !== overdueKey || lookup.fwd === "miss" || (usable(lookup.page) && (now < lookup.page.freshUntil || this.backingOff(cache, lookup.page, lookup.missKey, now))))) {
        void takeover.end(); // answered without it, or it is another page's now
        takeover = undefined;
      }
      if (usable(lookup.page) && now < lookup.page.freshUntil) return this.answers.hit(request, method, lookup.page, now, "collapsed");
      // The fill waited for failed: the stale page stands in rather than every waiter calling the handler.
      if (usable(lookup.page) && this.backingOff(cache, lookup.page, lookup.missKey, now)) return this.answers.hit(request, method, lookup.page, now, "stale-if-error");
      // The fill waited for (or taken over) found the page varies (the URL's first): this request's
      // variant is another page, whose misses collapse as any do. Start over for it.
      if (lookup.missKey !== overdueKey && lookup.fwd !== "miss") {
        release(lookup.page);
        return this.handle(run, request, args);
      }
    }
    // Another process may be filling it (a shared store with an atomic add).
    let held = false;
    if (!pending && lookup.fwd !== "miss" && !nested && collapseMs > 0 && sharesLocks(cache.backend)) {
      const waited = await this.waitForOtherProcess(cache, request, method, lookup, usable);
      if (waited.fresh) return this.answers.hit(request, method, waited.fresh, waited.now, "collapsed");
      ({ lookup, now, held } = waited);
      // The render waited for (this isolate's, that held the lock) failed meanwhile: the stale page stands in.
      if (usable(lookup.page) && this.backingOff(cache, lookup.page, lookup.missKey, now)) {
        if (held) this.freeLock(cache, waited.lockKey, request);
        return this.answers.hit(request, method, lookup.page, now, "stale-if-error");
      }
      // A lock taken under another key than the page's now (the URL's, before its vary list was
      // known): this request's variant is another page, whose misses collapse under its own lock.
      // Start over for it.
      if (held && waited.lockKey !== lookup.missKey) {
        this.freeLock(cache, waited.lockKey, request);
        release(lookup.page);
        return this.handle(run, request, args);
      }
    }
    const stale = usable(lookup.page) && now < lookup.page.staleIfErrorUntil ? lookup.page : undefined;
    // A page was found, but too old to serve: a stale miss (RFC 9211), not a missing one.
    const fwd = usable(lookup.page) ? "stale" : lookup.fwd;
    if (lookup.page !== stale) release(lookup.page);
    const fill = takeover ?? (pending || lookup.fwd === "miss" ? undefined : this.startFill(cache, lookup.missKey, request));
    if (fill) fill.held = held;

    let response: Response;
    // The request as it arrived, to judge and key the response by: a handler may change the
    // headers of the one it gets (a proxy dropping Authorization or Cookie before forwarding).
    const asked = copyRequest(request);
    const started = orderedNow(this.options.now);
    try {
      response = await (lookup.fwd === "miss" ? run(request) : whileFilling(this, request, cache, lookup.missKey, () => run(request)));
    } catch (error) {
      fill?.end();
      if (stale) {
        this.report(error, "revalidate", request);
        this.handlerFailed(cache, lookup.missKey);
        return this.answers.hit(asked, method, stale, this.options.now(), "stale-if-error", request);
      }
      throw error;
    }
    try {
      if (stale && response.status >= 500) {
        fill?.end();
        response.body?.cancel().catch(() => {});
        this.handlerFailed(cache, lookup.missKey);
        return this.answers.hit(asked, method, stale, this.options.now(), "stale-if-error", request);
      }
      release(stale);
      let stores = false;
      const answer = this.update(cache, asked, method, response, started, fwd, (write) => ((stores = true), this.schedule(write, args, cache, request)), fill, request);
      // Kept to stand in for a failure (stale-if-error), a page its handler now says is gone must not.
      if (stale && !stores && GONE_STATUSES.has(response.status)) this.schedule(this.dropGone(cache, asked, method, lookup.missKey, stale.storedAt), args, cache, request);
      return answer;
    } catch (error) {
      fill?.end(); // not a response that can be read (its body used or locked, or none): nothing is coming for the waiters
      throw error;
    }
  }

  /** Whether stale `page` stands in for its handler, which failed moments ago (see `errorBackoffMs`). */
  private backingOff(cache: EdgeCache, page: DecodedPage, key: string, now: number): boolean {
    return now < page.staleIfErrorUntil && this.handlerBacksOff(cache, key, now);
  }

  /**
   * The handler of the page under `key` failed just now (see `errorBackoffMs`). Kept by store and
   * made key, so every cache over the store sees it: Workers' per-request caches too.
   */
  private handlerFailed(cache: EdgeCache, key: string): void {
    this.backoff.failed(identityOf(cache.backend), cache.makeKey(key), this.options.now());
  }

  /** Whether the handler of the page under `key` failed less than `errorBackoffMs` before `now`. */
  private handlerBacksOff(cache: EdgeCache, key: string, now: number): boolean {
    return this.backoff.holds(identityOf(cache.backend), cache.makeKey(key), now);
  }

  /** Whether the `bypass` option sends `request` past the cache; a throwing `bypass` does (and is reported). */
  private bypasses(request: Request): boolean {
    try {
      return this.options.bypass!(request) === true;
    } catch (error) {
      this.report(error, "bypass", request);
      return true;
    }
  }

  /** Whether a fresh page is far enough into its life to be refreshed ahead of expiry (see `refreshAhead`); never when refreshes run in-request. */
  private refreshAheadDue(page: DecodedPage, now: number): boolean {
    const fraction = this.options.refreshAhead;
    return fraction !== undefined && this.refresh === "background" && now - page.storedAt >= fraction * (page.freshUntil - page.storedAt);
  }

  /**
   * Take the store-wide fill lock of a missing or stale page, or else wait for the process that
   * holds it: poll (see `pollsFor`) until its page is fresh, or its lock goes without one and
   * this process takes over, or `collapseMs` passes and this process fills it too.
   */
  private async waitForOtherProcess(cache: EdgeCache, request: Request, method: string, lookup: Lookup, usable: (page: DecodedPage | undefined) => page is DecodedPage): Promise<{ fresh?: DecodedPage; lookup: Lookup; now: number; held: boolean; lockKey: string }> {
    let now = this.options.now();
    /** Look the page up again: the fresh page, if it is there now. */
    const lookAgain = async (): Promise<DecodedPage | undefined> => {
      release(lookup.page);
      lookup = await this.lookups.find(cache, request, method);
      now = this.options.now();
      return usable(lookup.page) && now < lookup.page.freshUntil ? lookup.page : undefined;
    };
    const key = lookup.missKey;
    let claimed = await this.claim(cache, key, request);
    const nextPoll = pollsFor(lockWaitMs(cache.backend, this.options.collapseMs));
    while (claimed === false && (await nextPoll())) {
      let fresh = await lookAgain();
      if (fresh) return { fresh, lookup, now, held: false, lockKey: key };
      if (lookup.fwd === "miss") break; // the store failed: waiting on it is pointless
      claimed = await this.claim(cache, key, request);
      // The holder may have stored the page and let go of its lock between that look and this
      // claim: look once more before running the handler a second time. A look that fails leaves
      // no fill to free the lock: it is freed here.
      if (claimed === true && ((fresh = await lookAgain()) || (lookup as Lookup).fwd === "miss")) {
        this.freeLock(cache, key, request);
        return { fresh, lookup, now, held: false, lockKey: key };
      }
    }
    return { lookup, now, held: claimed === true, lockKey: key };
  }

  /**
   * UpdateCacheMiddleware: decide, patch the headers, stream the response and store it when it
   * ends. `started`: when the handler was called; `carry`: what keeps the store going after the
   * answer (`waitUntil`); `answering`: the request the response answers, reported to `onOutcome`
   * (none for a background refresh).
   */
  private update(cache: EdgeCache, request: Request, method: string, response: Response, started: number, fwd: Lookup["fwd"], carry: (write: Promise<unknown>) => void, fill: Fill | undefined, answering?: Request): Response {
    const decision = decide(request, response, this.rule, this.options);
    if (!decision.patch) {
      fill?.end();
      return this.answers.label(response, { hit: false, fwd, detail: decision.refusal }, answering);
    }
    const now = this.options.now();
    let patched = response;
    // With stripSetCookie, the page is stored without its cookies; the answer that carries them is
    // this client's alone, so it is marked private (sendCacheHeaders: false too): no shared cache
    // downstream may keep it.
    const strips = this.options.setCookie === "strip" && response.headers.has("set-cookie");
    if (this.options.sendCacheHeaders) {
      // Its Age goes out with it (and on hits, grown: see PageAnswers.hit), so max-age counts from
      // when it was made upstream: max-age less Age is then the freshness the cache gives it here.
      const age = decision.timeout > 0 ? decision.age : 0; // a page never fresh here is never fresh below
      patched = patchResponseHeaders(response, decision.timeout + age, { now: () => now - age * 1000 });
      if (this.staleDirectives && decision.stale === "options-or-response") patched = editHeaders(patched, this.staleDirectives);
    }
    const answer = (sent: Response, outcome: CacheOutcome): Response =>
      this.answers.label(strips ? editHeaders(sent, markPrivate) : sent, outcome, answering);
    if (decision.refusal) {
      fill?.end();
      return answer(patched, { hit: false, fwd, detail: decision.refusal });
    }
    if (this.deadlines.isOpen(cache, now)) {
      fill?.end();
      return answer(patched, { hit: false, fwd, detail: "store-down" });
    }
    let tagged: Tagged | undefined;
    try {
      tagged = this.tagsOf(request, patched, started);
    } catch (error) {
      // An untagged copy could never be purged by its tags: store none.
      fill?.end();
      this.report(error, "store", answering ?? request);
      return answer(patched, { hit: false, fwd, detail: "tags-failed" });
    }
    const tagHeader = this.options.tagHeader;
    if (tagged && tagHeader) patched = editHeaders(patched, (headers) => headers.set(tagHeader, tagHeaderValue(tagHeader, tagged.tags)));
    const swr = staleSeconds(decision, this.options.staleWhileRevalidate, "stale-while-revalidate");
    const sie = staleSeconds(decision, this.options.staleIfError, "stale-if-error");
    const freshUntil = now + decision.timeout * 1000;
    // A HEAD page keeps the handler's Content-Length: it has no body to count. A Cache-Status the
    // response came with (a page cache inside this one) tells of that request, not of later hits.
    const headers = [...patched.headers].filter(([name]) =>
      (!UNSTORED_HEADERS.has(name) || (method === "HEAD" && name === "content-length")) && !(strips && name === "set-cookie") && name !== this.statusHeader);
    const status = patched.status;
    const vary = varyNames(patched.headers.get("vary"));
    const { response: streamed, body } = method === "HEAD" ? headOnly(patched) : captureBody(patched, this.options.maxBodyBytes);
    const write = body
      .then(async (bytes) => {
        if (bytes === undefined) return; // over maxBodyBytes, or the stream broke or was cancelled
        const page: StoredPage = {
          status, headers, body: bytes, storedAt: now, ageOnArrival: decision.age, freshUntil,
          staleWhileRevalidateUntil: freshUntil + Math.max(0, swr) * 1000,
          staleIfErrorUntil: freshUntil + Math.max(0, sie) * 1000,
          shareable: decision.shareable,
          bodiless: method === "HEAD",
          tagged,
        };
        await this.store(cache, request, method, vary, page, decision.timeout + Math.max(0, swr, sie), started);
      })
      .catch((error: unknown) => this.report(error, "store", answering ?? request))
      .finally(() => fill?.end());
    carry(write);
    return answer(streamed, strips ? { hit: false, fwd, stored: true, detail: "set-cookie-stripped" } : { hit: false, fwd, stored: true });
  }

  /** The tags to file a page under, with the time its handler was called; `undefined` when untagged. */
  private tagsOf(request: Request, response: Response, started: number): Tagged | undefined {
    const tags = this.options.tags?.(request, response);
    if (tags === undefined || (Array.isArray(tags) && tags.length === 0)) return undefined;
    return { tags: checkTags(tags, "the tags options.tags returned", this.options.tagHeader !== false), at: started };
  }

  /**
   * Store `page`, rendered by a handler called at `started`, unless its URL was purged since then.
   * Each step has the store's time limit (see `timeoutMs`), not the whole: a healthy store's
   * few calls in a row must not add up to a time-out.
   */
  private async store(cache: EdgeCache, request: Request, method: string, vary: string[], page: StoredPage, timeout: number, started: number): Promise<void> {
    const limited = <T>(call: Promise<T>, writes = false): Promise<T> => this.deadlines.limit(cache, call, writes);
    const base = await baseKey(request, method, this.options);
    const purgedAt = await limited(lastPurgedAt(cache, base));
    if (purgedAt !== undefined && purgedAt >= started) return; // it may hold what the purge was for
    if (page.tagged) page = { ...page, tagged: { tags: page.tagged.tags, at: await fileUnderTags(cache, page.tagged, this.options, limited) } };
    const memo = varyMemo(cache);
    const mark = memo.mark();
    if (vary.length === 0) {
      memo.delete(base);
      await limited(writeStreamed(cache, base, storedPageHead(page), page.body, { timeout }), true);
    } else {
      // The epoch comes from the store, never from the memo: after a purge elsewhere, a remembered
      // epoch would bring the purged variants back. The index is kept twice as long as the page,
      // and one there with this epoch that outlasts the page is left as it is: each variant's first
      // miss would write it again (KV takes one write of a key a second).
      const writing = this.options.now();
      const { index, current } = await limited(varyIndexFor(cache, base, vary, { at: started, until: writing + shortestLife(cache, 2 * timeout) * 1000, needed: writing + timeout * 1000, purgedAt }));
      const key = await variantKey(base, request, vary, this.options, index.epoch);
      await limited(writeStreamed(cache, key, storedPageHead(page), page.body, { timeout }), true);
      if (!current) await limited(cache.set(base, index, { timeout: 2 * timeout }), true);
      memo.set(base, { vary, epoch: index.epoch, until: this.options.now() + this.options.tagCheckMs }, mark);
    }
    // A purge that came between the look above and these writes removed nothing they wrote (or,
    // for a page that varies, a vary index they then wrote back): look again, and take it back,
    // unless a render begun after the purge has stored its own there since. That holds for a
    // purge dated before this render began too, if its record landed only now: the index this
    // render took its epoch from may be the one the purge was deleting.
    const purgedLater = await limited(lastPurgedAt(cache, base));
    if (purgedLater !== undefined && (purgedLater >= started || purgedLater !== purgedAt)) {
      memo.delete(base);
      if (await limited(this.holdsOwn(cache, base, vary.length === 0 ? { storedAt: page.storedAt } : { indexAt: started }))) await limited(cache.delete(base), true);
    }
  }

  /** Whether `base` still holds what this fill wrote there: its page (stored at `storedAt`), or its vary index (written by a render begun `indexAt`). */
  private async holdsOwn(cache: EdgeCache, base: string, own: { storedAt: number } | { indexAt: number }): Promise<boolean> {
    const value = await readSharedStreamed(cache, base);
    const page = decodeStoredPage(value);
    release(page);
    if ("storedAt" in own) return page?.storedAt === own.storedAt;
    return isVaryIndex(value) && value.at === own.indexAt;
  }

  /**
   * Refresh a looked-up page in the background, once per key in this isolate (and in the store,
   * where it shares fills): the GET page with a GET request when a HEAD request found it. Resolves
   * once the handler has answered, or the refresh was left to another request or process, or
   * failed; storing the new page goes on after that, carried (by `waitUntil`) with the refresh, so
   * whatever waits for the refresh waits for the store and the fill lock's release too. A refresh
   * pending for longer than `collapseMs` does not hold this one back: its request may have ended.
   */
  private revalidate(cache: EdgeCache, run: (request: Request) => Response | Promise<Response>, asked: Request, lookup: Lookup, args: readonly unknown[]): Promise<Response | undefined> {
    const key = lookup.missKey;
    if (this.fills.pending(cache, key, this.options.collapseMs || DEFAULT_COLLAPSE_MS) || this.handlerBacksOff(cache, key, this.options.now())) return Promise.resolve(undefined);
    const request = refreshRequest(asked, lookup.fromGet ? "GET" : asked.method);
    const method = request.method;
    const fill = this.startFill(cache, key, request);
    let handled!: (gone?: Response) => void;
    const answered = new Promise<Response | undefined>((resolve) => (handled = resolve));
    /** Done without a new page: the request is answered before the fill lock's release (a store call) is awaited. */
    const leave = (): Promise<void> => {
      handled();
      return fill.end();
    };
    const refresh = (async () => {
      if (sharesLocks(cache.backend)) {
        const claimed = await this.claim(cache, key, request);
        if (claimed === false) return leave(); // another process is refreshing it
        fill.held = claimed === true;
        // Another process may have refreshed it and let go of the lock since this one looked.
        if (fill.held && ((await this.storedAtNow(cache, request, method)) ?? -Infinity) > lookup.page!.storedAt) return leave();
      }
      const started = orderedNow(this.options.now);
      // Marked for an inner layer that gets the request this answers instead (Hono's middleware,
      // refreshing in-request, renders with its context's own request). In the background it
      // follows no signal of the request that found the page stale: Deno aborts that signal once
      // the response is delivered, and a handler passing it on to its upstream fetch would fail.
      const rendering = this.refresh === "background" ? copyRequest(request, { signal: null }) : request.clone();
      const response = await whileFilling(this, asked, cache, key, () => whileFilling(this, rendering, cache, key, () => run(rendering)));
      if (response.status >= 500) {
        this.handlerFailed(cache, key);
        // The page it was to replace may stand in for a failure (stale-if-error): it stays, as a
        // miss keeps a stale page over a failing handler's answer.
        if (this.options.now() < lookup.page!.staleIfErrorUntil) {
          response.body?.cancel().catch(() => {});
          return leave();
        }
      }
      // The handler says the page is gone: a refresh in this request answers with that, stored or
      // not (and is reported as the request's answer), rather than with the page.
      const gone = GONE_STATUSES.has(response.status);
      const answers = gone && this.refresh === "in-request";
      let store: Promise<unknown> | undefined;
      const stored = this.update(cache, request, method, response, started, "stale", (write) => (store = write), fill, answers ? asked : undefined);
      handled(answers ? stored : undefined);
      if (store === undefined) {
        // Read through only to be stored: a response that will not be (an endless event stream, say) is let go of.
        if (!answers) await stored.body?.cancel();
        // Not stored, a page gone must not be served for the rest of its stale window, with a render on every request.
        if (gone) await this.dropGone(cache, request, method, key, lookup.page!.storedAt);
        return;
      }
      if (!answers) await stored.body?.pipeTo(new WritableStream()); // else its request reads it through
      await store;
    })().catch((error: unknown) => {
      fill.end();
      this.handlerFailed(cache, key);
      this.report(error, "revalidate", request);
    }).finally(() => handled());
    this.schedule(refresh, args, cache, asked);
    return answered;
  }

  /** When the page for `request` in the store now was stored; `undefined` when there is none. */
  private async storedAtNow(cache: EdgeCache, request: Request, method: string): Promise<number | undefined> {
    const { page } = await this.lookups.find(cache, request, method);
    release(page);
    return page?.storedAt;
  }

  /**
   * Remove the page stored at `storedAt` under `key`, which its handler now says is gone (see
   * `GONE_STATUSES`), unless another page has been stored there since. A failure is the store's,
   * reported: the handler did not fail.
   */
  private async dropGone(cache: EdgeCache, request: Request, method: string, key: string, storedAt: number): Promise<void> {
    try {
      if (this.deadlines.isOpen(cache, this.options.now())) return;
      if ((await this.deadlines.limit(cache, this.storedAtNow(cache, request, method))) !== storedAt) return;
      await this.deadlines.limit(cache, cache.delete(key), true);
    } catch (error) {
      this.report(error, "store", request);
    }
  }

  /** Free the store-wide fill lock of `key` that no fill holds, in the background; a failure is reported. */
  private freeLock(cache: EdgeCache, key: string, request: Request): void {
    releaseFill(cache, key).catch((error: unknown) => this.report(error, "store", request));
  }

  /** Mark `key` as being filled in this isolate; a failure to free its store-wide lock is reported. */
  private startFill(cache: EdgeCache, key: string, request: Request): Fill {
    return this.fills.start(cache, key, (error) => this.report(error, "store", request));
  }

  /**
   * Take the store-wide fill lock of `key`: `true` when taken here, `false` when another process
   * holds it, `undefined` when the store could not say (reported; the fill goes ahead unlocked).
   */
  private async claim(cache: EdgeCache, key: string, request: Request): Promise<boolean | undefined> {
    try {
      return await this.deadlines.limit(cache, claimFill(cache, key, this.options.collapseMs));
    } catch (error) {
      this.report(error, "lookup", request);
      return undefined;
    }
  }

  /**
   * Carry a cache write past the response: the `waitUntil` option, a `ctx` argument's, or the
   * background. On Workers the background ends with the response, so a store beyond the isolate
   * would never be written: said once to `onError` (the isolate's own memory is written at once).
   */
  private schedule(write: Promise<unknown>, args: readonly unknown[], cache: EdgeCache, request: Request): void {
    if (this.options.waitUntil) return this.options.waitUntil(write);
    const context = args.find((arg): arg is { waitUntil(promise: Promise<unknown>): void } =>
      typeof arg === "object" && arg !== null && typeof (arg as { waitUntil?: unknown }).waitUntil === "function");
    if (context) return context.waitUntil(write);
    if (ON_WORKERS && !this.toldNoWaitUntil && cache.backend.capabilities?.shared !== false) {
      this.toldNoWaitUntil = true;
      this.report(new Error(NO_WAIT_UNTIL), "store", request);
    }
  }

  /** Tell `onError` (nothing it does turns a miss into an error page: see `harmless`). */
  private report(error: unknown, operation: PageErrorContext["operation"], request: Request): void {
    this.options.onError(error, { operation, request });
  }
}

/** How long a page stored on `decision` may be served stale for `directive`'s reason: the option (`chosen`) where allowed, else the response's own directive. */
function staleSeconds(decision: Extract<Decision, { patch: true }>, chosen: number | undefined, directive: "stale-while-revalidate" | "stale-if-error"): number {
  if (decision.stale === "none") return 0;
  const own = parseDeltaSeconds(decision.directives.get(directive));
  return (decision.stale === "options-or-response" ? chosen ?? own : own) ?? 0;
}

/** Whether this runs on Cloudflare Workers (workerd), where work no `waitUntil` carries stops with its response. */
const ON_WORKERS = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === "Cloudflare-Workers";

const NO_WAIT_UNTIL = "page caching on Workers has no waitUntil to carry its cache writes past the response, so none is ever stored: "
  + "pass the fetch handler's (request, env, ctx) arguments through to the wrapped handler, or give options.waitUntil";

/**
 * What a handler answers for a page that is gone (Not Found, Gone). Answered for a page stored
 * before, and not stored itself, it removes that page, rather than leave it to be served stale. Not
 * any answer that is not stored: one visitor's (a 401 for an expired token, a page private to a
 * signed-in visitor) says nothing of the page everyone else is served.
 */
const GONE_STATUSES = new Set([404, 410]);

/**
 * Request headers that make an answer conditional or partial. A refresh renders the whole page
 * to store it, whatever the request that found it stale asked for: a 304 or a 206 from the
 * handler would not be stored, and the page would stay stale.
 */
const CONDITIONAL_OR_PARTIAL = [...conditionalRequestHeaders({ etag: "any", lastModified: "any" }), "if-range", "range"];

/** The request a background refresh renders: `asked` as `method`, without conditions or a range. */
function refreshRequest(asked: Request, method: string): Request {
  if (method === asked.method && !CONDITIONAL_OR_PARTIAL.some((name) => asked.headers.has(name))) return asked;
  const headers = new Headers(asked.headers);
  for (const name of CONDITIONAL_OR_PARTIAL) headers.delete(name);
  return copyRequest(asked, { method, headers });
}

/**
 * `new Request(request, init)`: a copy, Workers' `cf` kept. A request the runtime cannot copy so
 * (@hono/node-server's lightweight one, when it leaves the global Request alone) is copied by its
 * URL, method and headers, all that a copy is used for on a server.
 */
function copyRequest(request: Request, init: RequestInit = {}): Request {
  try {
    return new Request(request, init);
  } catch {
    return new Request(request.url, { method: request.method, headers: request.headers, ...init });
  }
}

/**
 * A HEAD response has no body to stream or store. Hosts drop whatever body a handler gave a HEAD
 * request (Hono runs GET routes for it) without reading it, so waiting for it would never end.
 */
function headOnly(response: Response): CapturedResponse {
  response.body?.cancel().catch(() => {});
  return { response: new Response(null, response), body: Promise.resolve(new Uint8Array(0)) };
}
