/**
 * Expiry headers: Django's `patch_response_headers` and `add_never_cache_headers`.
 */
import { describe } from "../arguments.ts";
import { compileCacheControl, MAX_DELTA_SECONDS } from "./cache-control.ts";
import { formatHttpDate } from "./date.ts";
import { editHeaders } from "./headers.ts";

/** A clock for the helpers that write Expires; tests pass a fixed one. */
export interface ClockOptions {
  /** The current time in epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** Default of {@link patchResponseHeaders}' timeout, Django's `CACHE_MIDDLEWARE_SECONDS`: 600 s. */
export const DEFAULT_CACHE_SECONDS = 600;

const neverCacheDirectives = compileCacheControl({
  maxAge: 0, noCache: true, noStore: true, mustRevalidate: true, private: true,
});

/**
 * Django's `patch_response_headers`: set Expires to now + `timeout` seconds unless the response
 * already has one, and patch `max-age` to `timeout` (an existing smaller max-age wins). A
 * negative timeout counts as 0, one over 2^31 s (68 years) as 2^31; fractions are dropped from
 * max-age. Returns the response, or a copy when its headers are immutable.
 *
 * @example
 * patchResponseHeaders(new Response("hi"), 2, { now: () => 1468749600000 })
 * // Expires: Sun, 17 Jul 2016 10:00:02 GMT; Cache-Control: max-age=2
 */
export function patchResponseHeaders(response: Response, timeout: number = DEFAULT_CACHE_SECONDS,
  options: ClockOptions = {}): Response {
  if (typeof timeout !== "number" || !Number.isFinite(timeout)) {
    throw new TypeError(`timeout must be a finite number of seconds, got ${describe(timeout)}`);
  }
  const seconds = Math.min(Math.max(0, timeout), MAX_DELTA_SECONDS); // Expires stays a date
  const maxAge = compileCacheControl({ maxAge: seconds });
  return editHeaders(response, (headers) => {
    setExpiresIfAbsent(headers, now(options) + seconds * 1000);
    maxAge(headers);
  });
}

/**
 * Django's `add_never_cache_headers`: Expires now (unless present) and
 * `Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private` (an existing `public`
 * is removed, other directives stay). Returns the response, or a copy when its headers are
 * immutable.
 *
 * @example
 * addNeverCacheHeaders(new Response("hi")).headers.get("Cache-Control")
 * // "max-age=0, no-cache, no-store, must-revalidate, private"
 */
export function addNeverCacheHeaders(response: Response, options: ClockOptions = {}): Response {
  return editHeaders(response, (headers) => {
    setExpiresIfAbsent(headers, now(options));
    neverCacheDirectives(headers);
  });
}

function now(options: ClockOptions): number {
  return (options.now ?? Date.now)();
}

function setExpiresIfAbsent(headers: Headers, time: number): void {
  if (!headers.has("expires")) headers.set("expires", formatHttpDate(time));
}
