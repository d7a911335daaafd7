/**
 * Django's view decorators as handler wrappers: `cacheControl`, `neverCache`, `varyOnHeaders`,
 * `varyOnCookie`, `conditionalGet`, and `compose` to stack them. Each keeps the handler's type
 * and passes its extra arguments (and `this`) through untouched.
 */
import { checkFunction } from "./arguments.ts";
import { type CacheControlDirectives, compileCacheControl } from "./http/cache-control.ts";
import { type ConditionalGetOptions, compileConditionalGet } from "./http/conditional.ts";
import { editHeaders } from "./http/headers.ts";
import { addNeverCacheHeaders } from "./http/response-headers.ts";
import { compileVary } from "./http/vary.ts";
import type { Handler, Wrapper } from "./types.ts";

/**
 * A wrapper that runs `after` on every response of the handler. A synchronous handler stays
 * synchronous when `after` is.
 */
function afterResponse(after: (response: Response, request: Request) => Response | Promise<Response>): Wrapper {
  return <H extends Handler>(handler: H): H => {
    checkFunction(handler, "handler");
    return function (this: unknown, request: Request, ...args: unknown[]) {
      const result = handler.apply(this, [request, ...args]);
      return "then" in result ? result.then((response) => after(response, request)) : after(result, request);
    } as H;
  };
}

/**
 * Patch every response's Cache-Control with `directives` (see `patchCacheControl`). Invalid
 * directives throw a TypeError here, at wrap time.
 *
 * @example
 * export default { fetch: cacheControl({ public: true, maxAge: 3600 })(handler) };
 */
export function cacheControl(directives: CacheControlDirectives): Wrapper {
  const patch = compileCacheControl(directives);
  return afterResponse((response) => editHeaders(response, patch));
}

/**
 * Mark every response as never cacheable: `Cache-Control: max-age=0, no-cache, no-store,
 * must-revalidate, private` and Expires now (see `addNeverCacheHeaders`).
 *
 * @example
 * const account = neverCache(async (request: Request) => new Response("private page"));
 */
export const neverCache: Wrapper = afterResponse((response) => addNeverCacheHeaders(response));

/**
 * Add `names` to every response's Vary header (see `patchVaryHeaders`). A name that is not a
 * header name throws a TypeError here, at wrap time.
 *
 * @example
 * const page = varyOnHeaders("Accept-Language", "User-Agent")(handler);
 */
export function varyOnHeaders(...names: string[]): Wrapper {
  const patch = compileVary(names);
  return afterResponse((response) => editHeaders(response, patch));
}

/**
 * Add `Cookie` to every response's Vary header.
 *
 * @example
 * const page = varyOnCookie(handler);
 */
export const varyOnCookie: Wrapper = varyOnHeaders("Cookie");

/**
 * {@link conditionalGet} with options: `maxEtagBytes` is the largest body hashed for an ETag
 * (default 1 MiB); longer bodies stream through untagged.
 *
 * @example
 * const page = createConditionalGet({ maxEtagBytes: 64 * 1024 })(handler);
 */
export function createConditionalGet(options: ConditionalGetOptions = {}): Wrapper {
  const respond = compileConditionalGet(options);
  return afterResponse((response, request) => respond(request, response));
}

/**
 * Django's ConditionalGetMiddleware for one handler: GET 200 responses with a body get an ETag
 * (SHA-256 of bodies up to 1 MiB) unless they have one or say `no-store`; then If-None-Match /
 * If-Modified-Since answer 304 and failed If-Match / If-Unmodified-Since answer 412. The handler
 * always runs; this saves bandwidth, not work.
 *
 * @example
 * export default { fetch: conditionalGet(handler) };
 */
export const conditionalGet: Wrapper = createConditionalGet();

/**
 * Combine wrappers, outermost first: `compose(a, b)(h)` behaves as `a(b(h))`.
 *
 * @example
 * const page = compose(conditionalGet, cacheControl({ maxAge: 60 }), varyOnCookie)(handler);
 */
export function compose(...wrappers: Wrapper[]): Wrapper {
  wrappers.forEach((wrapper, i) => checkFunction(wrapper, `wrappers[${i}]`));
  return <H extends Handler>(handler: H): H => wrappers.reduceRight((wrapped, wrapper) => wrapper(wrapped), handler);
}
