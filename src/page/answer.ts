/**
 * Answering from the cache: a stored page as the response to a request (Age, Cache-Status, HEAD
 * without a body, conditional and range requests answered), and the Cache-Status label on any
 * response.
 * The engine (`engine.ts`) decides when; this module builds what is sent.
 */
import { MAX_DELTA_SECONDS } from "../http/cache-control.ts";
import { getConditionalResponse } from "../http/conditional.ts";
import { getRangeResponse } from "../http/range.ts";
import { editHeaders } from "../http/headers.ts";
import { cacheStatusValue, type CacheOutcome } from "./cache-status.ts";
import type { ResolvedPageOptions } from "./options.ts";
import type { DecodedPage } from "./stored.ts";

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** Why a hit was served other than fresh from the cache. */
export type HitDetail = "collapsed" | "revalidating" | "refreshing" | "stale-if-error";

/** What a hit adds to its page's headers: its age in whole seconds (its Age on arrival, plus the time since it was stored), those of freshness left, and whether it answers a HEAD. */
interface Hit {
  age: number;
  ttl: number;
  detail: HitDetail | undefined;
  head: boolean;
}

/**
 * One page-caching wrapper's way of answering: its Cache-Status settings, and the hit headers it
 * has prepared.
 *
 * @example
 * const answers = new PageAnswers(resolvePageOptions({ cacheName: "edge" }));
 * return answers.hit(request, "GET", page, Date.now());
 */
export class PageAnswers {
  /** The hit last prepared for each streamed page (see `hitInit`), keyed by its decoded head's (shared, frozen) header list. */
  private readonly prepared = new WeakMap<DecodedPage["headers"], Hit & { init: Response }>();
  private readonly options: Pick<ResolvedPageOptions, "cacheStatus" | "cacheName" | "onOutcome">;

  constructor(options: Pick<ResolvedPageOptions, "cacheStatus" | "cacheName" | "onOutcome">) {
    this.options = options;
  }

  /**
   * A response for a stored page: Age, freshness, HEAD without a body, conditional and range
   * requests answered, by `request`'s headers. `answering`: the request `onOutcome` hears of, when
   * `request` is a copy of it (made before a handler could change its headers).
   */
  hit(request: Request, method: string, page: DecodedPage, now: number, detail?: HitDetail, answering = request): Response {
    const remaining = (page.freshUntil - now) / 1000;
    const hit: Hit = {
      age: Math.min(page.ageOnArrival + Math.max(0, Math.floor((now - page.storedAt) / 1000)), MAX_DELTA_SECONDS), // RFC 9111 §4.2.3
      ttl: remaining > 0 ? Math.ceil(remaining) : Math.floor(remaining),
      detail,
      head: method === "HEAD",
    };
    if (this.options.onOutcome) this.observe({ hit: true, ttl: hit.ttl, detail }, answering);
    let body: BodyInit | null = page.body as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;
    if (hit.head || NULL_BODY_STATUSES.has(page.status)) {
      release(page);
      body = null;
    }
    const response = new Response(body, this.hitInit(page, hit));
    if (!hasAnyHeader(request.headers, page.answerHeaders)) return detail === undefined ? response : standingIn(response, detail);
    // Preconditions first, then Range (RFC 9110 §13.2.2).
    let answer = page.validated ? getConditionalResponse(request, response) : response;
    if (answer === response) answer = getRangeResponse(request, response, page.bodyLength); // HEAD: left whole
    return standingIn(answer === response || answer.status === 206 ? answer : this.withStatus(answer, { hit: true, ttl: hit.ttl, detail }), detail);
  }

  /** `response` with its Cache-Status for `outcome` (unless the header is turned off), reported to `onOutcome` as the answer to `request` when given. */
  label(response: Response, outcome: CacheOutcome, request?: Request): Response {
    if (request) this.observe(outcome, request);
    return this.withStatus(response, outcome);
  }

  /** Tell `onOutcome`, if set, how `request` was answered (nothing it does changes the answer: see `harmless`). */
  private observe(outcome: CacheOutcome, request: Request): void {
    this.options.onOutcome?.(outcome, request);
  }

  private withStatus(response: Response, outcome: CacheOutcome): Response {
    const name = this.options.cacheStatus;
    if (name === false) return response;
    const value = cacheStatusValue(this.options.cacheName, outcome);
    return editHeaders(response, (headers) => headers.append(name, value));
  }

  /**
   * A hit's status and headers: the page's own, then Age, Cache-Status and, for HEAD,
   * Content-Length. A page read whole gets a record of headers (see `withHeaders`). A streamed
   * page comes from a runtime's own cache (workerd, Deno), where copying natively is cheaper than
   * building: its hit is prepared once as a bodiless Response, whose status and headers every hit
   * that adds the same values copies (Age and the TTL in Cache-Status change once a second, so
   * most hits of a popular page do). workerd builds a Response from another faster than from a
   * dictionary holding a Headers (2.1 against 2.6 µs with five headers), as Hono's `cache()` does.
   */
  private hitInit(page: DecodedPage, hit: Hit): ResponseInit {
    if (page.body instanceof Uint8Array) return { status: page.status, headers: withHeaders(page, this.hitAdditions(page, hit)) };
    const prepared = this.prepared.get(page.headers);
    if (prepared && prepared.age === hit.age && prepared.ttl === hit.ttl && prepared.detail === hit.detail && prepared.head === hit.head) {
      return prepared.init;
    }
    const headers = new Headers(page.headers);
    for (const [name, value] of this.hitAdditions(page, hit)) headers.append(name, value);
    const init = new Response(null, { status: page.status, headers });
    this.prepared.set(page.headers, { ...hit, init });
    return init;
  }

  /** The headers a hit adds after the page's own. */
  private hitAdditions(page: DecodedPage, hit: Hit): Array<[string, string]> {
    const added: Array<[string, string]> = [["age", String(hit.age)]];
    const status = this.options.cacheStatus;
    if (status !== false) added.push([status, cacheStatusValue(this.options.cacheName, { hit: true, ttl: hit.ttl, detail: hit.detail })]);
    // A HEAD page has no body: it keeps the handler's own Content-Length, if it gave one. A 204
    // never has one (RFC 9110 §8.6).
    if (hit.head && !page.bodiless && page.status !== 204) added.push(["content-length", String(page.bodyLength)]);
    return added;
  }
}

/**
 * Hits that stood in for the handler, whose run in this request may have failed: the stale page
 * answered for a failing handler (`stale-if-error`) or while this request refreshed it
 * (`revalidating`). A framework's middleware that saw the handler's error learns from this that
 * the request was answered all the same (see `hono.ts`).
 *
 * @example
 * if (c.error && standInAnswers.has(response)) answeredErrors.set(c, c.error);
 */
export const standInAnswers = new WeakSet<Response>();

/** `answer`, marked as standing in for the handler when `detail` says it may have (see `standInAnswers`). */
function standingIn(answer: Response, detail: HitDetail | undefined): Response {
  if (detail === "stale-if-error" || detail === "revalidating") standInAnswers.add(answer);
  return answer;
}

/**
 * Let go of a looked-up page that will not be answered with: a streamed body must be cancelled.
 *
 * @example
 * if (lookup.page !== stale) release(lookup.page);
 */
export function release(page: DecodedPage | undefined): void {
  if (page !== undefined && !(page.body instanceof Uint8Array)) page.body.cancel().catch(() => {});
}

/**
 * A page's headers plus `added`: a plain record when no name repeats (runtimes build a Response
 * from a record fastest, and @hono/node-server writes one without building Headers), else pairs.
 */
function withHeaders(page: DecodedPage, added: ReadonlyArray<[string, string]>): HeadersInit {
  const stored = page.headerRecord;
  if (stored && added.every(([name]) => !Object.hasOwn(stored, name))) {
    const record: Record<string, string> = { ...stored };
    for (const [name, value] of added) record[name] = value;
    return record;
  }
  return [...page.headers, ...added];
}

/** Whether `headers` has any of `names` (a loop: no closure per request, as `some` would make). */
function hasAnyHeader(headers: Headers, names: readonly string[]): boolean {
  for (const name of names) if (headers.has(name)) return true;
  return false;
}
