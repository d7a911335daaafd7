/**
 * What may be stored, and for how long: Django's UpdateCacheMiddleware rules, stricter where
 * Django leaks. Checked in this order; the first that fails decides.
 *
 * 1. Status: only the cacheable statuses (default 200) and those with a `statusTimeouts` entry
 *    are stored; a 304 gets caching headers but is never stored; anything else passes through
 *    untouched. So does an event stream (`text/event-stream`): it may never end, and each
 *    client is to get the events from when it connects.
 * 2. Set-Cookie: never stored unless `allowSetCookie` (Django stores it and replays the cookie)
 *    or `stripSetCookie` (the engine stores the page without it); with `allowSetCookie`, still not
 *    when it varies on Cookie for a request without one (of `varyCookies`), as in Django: a new
 *    visitor's session.
 * 3. Cache-Control `private`, `no-store` or `no-cache` (parsed, any case; Django: substring),
 *    or a member that is no directive (`no-store; no-cache`) or a quote left open in it, which
 *    may hide one of them (in a field joined after it, for the quote).
 *    Here and below, "Cache-Control" is the first of the `targetedCacheControl` fields the
 *    response has (RFC 9213), if any.
 * 4. `Vary: *` (Django caches it without varying).
 * 5. A request with Authorization, unless the response is explicitly shareable (`public`,
 *    `s-maxage`, `must-revalidate`; RFC 9111 §3.5). Django caches it. Without `public`, such a
 *    response may reach others only while fresh: it is kept no longer than its own `s-maxage` (or
 *    `max-age`), not at all when that is 0, and never served stale.
 * 6. Timeout: a `statusTimeouts` entry for the status beats everything; else `cachePage`'s timeout
 *    beats the response's max-age (even max-age=0); `cacheSite` uses the shared cache's lifetime,
 *    `s-maxage` or else `max-age`, less the `Age` the response arrived with (0 left means "don't
 *    cache"), and falls back to its `seconds`.
 * 7. Stale serving: none for a response that says `must-revalidate` or `proxy-revalidate` (nor
 *    for the Authorization case of 5), whatever the stale options say; for one with `s-maxage`
 *    (which carries proxy-revalidate's rule to shared caches), only what its own
 *    `stale-while-revalidate` and `stale-if-error` allow.
 * 8. A Content-Length over `maxBodyBytes`: patched but not stored, and its body is not collected
 *    (a body without one is collected while it streams, and dropped once it grows past). HEAD
 *    responses store no body, so theirs does not count.
 */
import { parseDeltaSeconds, type ParsedCacheControl, scanCacheControl } from "../http/cache-control.ts";
import { parseVary } from "../http/vary.ts";
import type { ResolvedPageOptions } from "./options.ts";
import { keyedCookies } from "./keys.ts";

const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;

/** `cachePage(timeout)`, or `cacheSite({ seconds })` (which `cachePage(null)` also is, with 600 s). */
export type TimeoutRule = { kind: "page"; timeout: number } | { kind: "site"; seconds: number };

/** Why a response was not stored: the `detail` of its Cache-Status. */
export type Refusal = "status" | "error" | "event-stream" | "not-modified" | "set-cookie" | "malformed-cache-control" | "private" | "no-store" | "no-cache" | "vary-star" | "authorization" | "max-age-zero" | "zero-timeout" | "too-large";

/**
 * Responses a framework made of an error thrown below the page cache (Hono's `onError` answer,
 * below 500, to an `HTTPException(404)` or any other error: a redirect, a fallback page):
 * answered as they are, never patched nor stored, as Django's
 * `cache_page` stores nothing when the view raises. Wrappers between the page cache and the
 * thrower patched nothing either (a `varyOnCookie` would have keyed a visitor's 403 by cookie),
 * so storing one could hand it to others.
 *
 * @example
 * if (c.error !== erredBefore) errorAnswers.add(c.res);
 */
export const errorAnswers = new WeakSet<Response>();

/** What to do with a response on a miss. */
export type Decision =
  /** Leave the response as it is. */
  | { patch: false; refusal: Refusal }
  /**
   * Add Expires and max-age for `timeout`; store it when `refusal` is absent. `stale`: what may
   * let the page be served stale (see 7): the stale options or the response's own directives,
   * its own directives only, or nothing. `age`: the response's own Age in seconds (0 without
   * one), which a hit's Age starts from.
   */
  | { patch: true; timeout: number; refusal?: Refusal; shareable: boolean; stale: StalePermission; directives: ParsedCacheControl; age: number };

/**
 * What may let a stored page be served stale (see 7 above).
 *
 * @example
 * const stale: StalePermission = directives.has("s-maxage") ? "response" : "options-or-response";
 */
export type StalePermission = "options-or-response" | "response" | "none";

/**
 * Decide whether and for how long a miss's response is stored.
 *
 * @example
 * decide(request, response, { kind: "page", timeout: 900 }, options); // { patch: true, timeout: 900, shareable: false, ... }
 */
export function decide(request: Request, response: Response, rule: TimeoutRule, options: Pick<ResolvedPageOptions, "cacheableStatuses" | "statusTimeouts" | "setCookie" | "maxBodyBytes" | "targetedCacheControl" | "varyCookies">): Decision {
  if (errorAnswers.has(response)) return { patch: false, refusal: "error" };
  const status = response.status;
  const statusTimeout = options.statusTimeouts.get(status);
  const cacheable = statusTimeout !== undefined || options.cacheableStatuses.has(status);
  if (!cacheable && status !== 304) return { patch: false, refusal: "status" };
  const headers = response.headers;
  if (EVENT_STREAM.test(headers.get("content-type") ?? "")) return { patch: false, refusal: "event-stream" };
  if (headers.has("set-cookie")) {
    // Allowed to be stored, a page still is not when it varies on Cookie for a request that had
    // none, as in Django: the cookie is that visitor's new session, and every later visitor
    // without one (the same variant) would be handed it. With varyCookies, none of those cookies
    // (a visitor with an analytics cookie alone has no session either).
    if (options.setCookie === "refuse" || (options.setCookie === "store" && !keyedCookies(request, options.varyCookies) && parseVary(headers.get("vary")).some((name) => name.toLowerCase() === "cookie"))) {
      return { patch: false, refusal: "set-cookie" };
    }
  }
  const { directives, malformed } = governingDirectives(headers, options.targetedCacheControl);
  if (malformed) return { patch: false, refusal: "malformed-cache-control" };
  for (const refusal of ["private", "no-store", "no-cache"] as const) {
    if (directives.has(refusal)) return { patch: false, refusal };
  }
  if (parseVary(headers.get("vary")).includes("*")) return { patch: false, refusal: "vary-star" };
  const shareable = directives.has("public") || directives.has("s-maxage") || directives.has("must-revalidate");
  const authorized = request.headers.has("authorization");
  if (!shareable && authorized) return { patch: false, refusal: "authorization" };

  // The lifetime a shared cache gives the response itself (RFC 9111 §4.2.1), if it gives one, less
  // the Age it arrived with from a cache upstream (a proxied origin's CDN): what it has left.
  const lifetime = parseDeltaSeconds(directives.get("s-maxage")) ?? parseDeltaSeconds(directives.get("max-age"));
  const age = Math.max(0, parseDeltaSeconds(headers.get("age") ?? undefined) ?? 0);
  const left = lifetime === undefined || lifetime <= 0 ? lifetime : Math.max(0, lifetime - age); // a negative max-age stays one (Django)
  let timeout: number;
  if (statusTimeout !== undefined) {
    timeout = statusTimeout;
  } else if (rule.kind === "site") {
    if (left === 0) return { patch: false, refusal: "max-age-zero" };
    timeout = left ?? rule.seconds;
  } else {
    timeout = rule.timeout;
  }
  // Shared only by s-maxage or must-revalidate, a response to a request with Authorization may
  // reach others while it is fresh, and no longer (RFC 9111 §3.5).
  const sharedWhileFresh = authorized && !directives.has("public");
  if (sharedWhileFresh && left !== undefined) {
    if (left === 0) return { patch: false, refusal: "authorization" };
    timeout = Math.min(timeout, left);
  }
  const stale: StalePermission = sharedWhileFresh || directives.has("must-revalidate") || directives.has("proxy-revalidate") ? "none"
    : directives.has("s-maxage") ? "response"
    : "options-or-response";
  const refusal = status === 304 ? "not-modified" : timeout <= 0 ? "zero-timeout" : request.method !== "HEAD" && Number(headers.get("content-length")) > options.maxBodyBytes ? "too-large" : undefined;
  return refusal ? { patch: true, timeout, refusal, shareable, stale, directives, age } : { patch: true, timeout, shareable, stale, directives, age };
}

/**
 * The Cache-Control directives this cache obeys (RFC 9213 §2.1): those of the first targeted field
 * present and valid (holding at least one directive), else Cache-Control's; `malformed` when that
 * field holds members that are no directive (`no-store; no-cache`) or leaves a quote open (which
 * may hide a `private` in a field joined after it). A targeted field that holds nothing else
 * governs too, malformed, rather than being passed over as RFC 9213 would: a `no-store` may be
 * what it failed to say.
 */
function governingDirectives(headers: Headers, targeted: readonly string[]): { directives: ParsedCacheControl; malformed: boolean } {
  for (const name of targeted) {
    const value = headers.get(name);
    const scanned = scanCacheControl(value);
    if (scanned.directives.size > 0 || scanned.malformed) return scanned;
  }
  return scanCacheControl(headers.get("cache-control"));
}
