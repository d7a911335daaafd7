/**
 * OpenTelemetry for edgecache (`edgecache/otel`): hooks that turn what the caches report into
 * OpenTelemetry metrics, and put each page's outcome on the request's active span. They use only
 * `@opentelemetry/api` (an optional peer dependency), so they record into whatever SDK the app
 * registered, on any runtime, and cost nothing measurable when none is.
 *
 * Metrics (every attribute takes a handful of values, so series stay few):
 * - `edgecache.reads`: low-level reads, by `edgecache.operation` (get, getMany, has, getOrSet,
 *   getOrSetMany) and `edgecache.hit`, with `edgecache.refreshing` when a `getOrSet` hit asked
 *   for a refresh.
 * - `edgecache.pages`: page requests, by `edgecache.page.result` (`hit`, `stale-hit` for a stale
 *   page served, or the RFC 9211 forward reason: uri-miss, vary-miss, miss, stale (a page found
 *   too old, or purged), method, bypass),
 *   `edgecache.page.stored`, `edgecache.page.detail` (collapsed, revalidating, set-cookie, ...)
 *   and `http.request.method` (`_OTHER` for a method outside HTTP's own, as OpenTelemetry's
 *   conventions say).
 * - `edgecache.tiered.reads`: reads of a tiered backend, by `edgecache.tier` and `edgecache.hit`.
 * - `edgecache.errors`: errors the caches reported and answered as misses, by `edgecache.source`
 *   (cache, page), `edgecache.operation` and `error.type` (the error's name).
 * - `edgecache.backend.duration` (a histogram, in seconds): each call to the store, by
 *   `edgecache.backend`, `edgecache.operation`, and `error.type` when it failed.
 * Each also carries `edgecache.cache.name` when `name` is given.
 */
import { type Attributes, type Counter, type Histogram, type Meter, metrics, trace } from "@opentelemetry/api";
import type { ReadOutcome } from "./cache.ts";
import type { BackendCall } from "./observed-backend.ts";
import type { CacheOutcome } from "./page/cache-status.ts";
import type { PageErrorContext } from "./page/options.ts";
import type { TieredRead } from "../adapters/tiered.ts";
import { checkFunction, describe } from "./arguments.ts";

/** Bucket bounds for store call durations, in seconds: from half a millisecond (memory, a near memcached) to 5 s. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The methods recorded as they are (OpenTelemetry's HTTP conventions); any other is `_OTHER`, so a client cannot add series. */
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"]);

/** `http.request.method` for a request. */
const methodOf = (request: Request): string => (KNOWN_METHODS.has(request.method) ? request.method : "_OTHER");

/** `error.type` for an error: its class name. */
const errorType = (error: unknown): string => (error instanceof Error ? error.name : typeof error);

/**
 * Options of {@link telemetry}.
 *
 * @example
 * const options: TelemetryOptions = { name: "pages", meter: metrics.getMeter("shop") };
 */
export interface TelemetryOptions {
  /**
   * The meter to record on. Default: `metrics.getMeter("edgecache")`, from the app's global meter
   * provider, taken at the first measurement (so one registered after the hooks were made, but
   * before the first request, counts).
   */
  meter?: Meter;
  /** Recorded as `edgecache.cache.name` on every measurement, to tell several caches apart. Default: none. */
  name?: string;
  /**
   * Set each page's outcome on the active span, if there is one (the request's server span):
   * `edgecache.page.result`, `edgecache.page.stored` and `edgecache.page.detail`. Default true.
   */
  spans?: boolean;
}

/**
 * The hooks, grouped by what takes them, ready to spread into each one's options.
 *
 * @example
 * const otel: Telemetry = telemetry({ name: "pages" });
 * const pages = createCache({ backend: memory(), ...otel.cache });
 */
export interface Telemetry {
  /** For `createCache`. */
  readonly cache: {
    onRead(outcome: ReadOutcome): void;
    onError(error: unknown, operation: string): void;
    onBackendCall(call: BackendCall): void;
  };
  /** For `cachePage`, `cacheSite` and the Hono middleware. */
  readonly page: {
    onOutcome(outcome: CacheOutcome, request: Request): void;
    onError(error: unknown, context: PageErrorContext): void;
  };
  /** For `tiered`. */
  readonly tiered: {
    onRead(read: TieredRead): void;
  };
}

/**
 * OpenTelemetry hooks for edgecache's caches, pages and tiered backends.
 *
 * @example
 * import { cachePage, createCache } from "edgecache";
 * import { telemetry } from "edgecache/otel";
 *
 * const otel = telemetry({ name: "pages" });
 * const cache = createCache({ ...otel.cache });
 * const page = cachePage(60, { cache, ...otel.page })(handler);
 */
export function telemetry(options: TelemetryOptions = {}): Telemetry {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  if (options.meter !== undefined && (options.meter === null || typeof options.meter !== "object")) throw new TypeError(`options.meter must be an OpenTelemetry Meter, got ${describe(options.meter)}`);
  if (options.meter !== undefined) checkFunction(options.meter.createCounter, "options.meter.createCounter");
  if (options.name !== undefined && (typeof options.name !== "string" || options.name === "")) throw new TypeError(`options.name must be a non-empty string, got ${describe(options.name)}`);
  if (options.spans !== undefined && typeof options.spans !== "boolean") throw new TypeError(`options.spans must be true or false, got ${describe(options.spans)}`);
  const named: Attributes = options.name === undefined ? {} : { "edgecache.cache.name": options.name };
  const spans = options.spans ?? true;
  // Made at the first measurement, not here: hooks made at module scope then record into a meter
  // provider the app registers afterwards (the API hands out no-op meters until one is).
  let made: (Record<"reads" | "pages" | "tieredReads" | "errors", Counter> & { durations: Histogram }) | undefined;
  const instruments = () => {
    if (made) return made;
    const meter = options.meter ?? metrics.getMeter("edgecache");
    const counter = (name: string, description: string, unit: string): Counter => meter.createCounter(name, { description, unit });
    return (made = {
      reads: counter("edgecache.reads", "Low-level cache reads, by operation and whether they hit", "{read}"),
      pages: counter("edgecache.pages", "Requests through page caching, by outcome", "{request}"),
      tieredReads: counter("edgecache.tiered.reads", "Keys a tiered backend read, by tier and whether they hit", "{read}"),
      errors: counter("edgecache.errors", "Errors the caches reported and answered as misses", "{error}"),
      durations: meter.createHistogram("edgecache.backend.duration", {
        description: "How long calls to the cache's store took",
        unit: "s",
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
    });
  };
  const failed = (source: string, operation: string, error: unknown): void => {
    instruments().errors.add(1, { ...named, "edgecache.source": source, "edgecache.operation": operation, "error.type": errorType(error) });
  };

  return {
    cache: {
      onRead(outcome) {
        const attributes: Attributes = { ...named, "edgecache.operation": outcome.operation, "edgecache.hit": outcome.hit };
        if (outcome.refreshing) attributes["edgecache.refreshing"] = true;
        instruments().reads.add(1, attributes);
      },
      onError: (error, operation) => failed("cache", operation, error),
      onBackendCall(call) {
        const attributes: Attributes = { ...named, "edgecache.backend": call.backend, "edgecache.operation": call.operation };
        if (call.error !== undefined) attributes["error.type"] = errorType(call.error);
        instruments().durations.record(call.ms / 1000, attributes);
      },
    },
    page: {
      onOutcome(outcome, request) {
        const page: Attributes = { "edgecache.page.result": outcome.hit ? (outcome.ttl <= 0 ? "stale-hit" : "hit") : outcome.fwd };
        if (!outcome.hit) page["edgecache.page.stored"] = outcome.stored === true;
        if (outcome.detail !== undefined) page["edgecache.page.detail"] = outcome.detail;
        instruments().pages.add(1, { ...named, ...page, "http.request.method": methodOf(request) });
        if (spans) trace.getActiveSpan()?.setAttributes({ ...named, ...page });
      },
      onError: (error, context) => failed("page", context.operation, error),
    },
    tiered: {
      onRead: (read) => instruments().tieredReads.add(1, { ...named, "edgecache.tier": read.tier, "edgecache.hit": read.hit }),
    },
  };
}
