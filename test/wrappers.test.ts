import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import type { Handler, Wrapper } from "../src/types.ts";
import {
  cacheControl, compose, conditionalGet, createConditionalGet, neverCache, varyOnCookie, varyOnHeaders,
} from "../src/wrappers.ts";

interface Env { GREETING: string }
const request = (headers: Record<string, string> = {}) => new Request("https://example.com/", { headers });
const hello = (_request: Request, env: Env, suffix: string) => new Response(`${env.GREETING}${suffix}`);

afterEach(() => {
  vi.useRealTimers();
});

describe("wrappers keep the handler", () => {
  it("pass extra arguments and this through, and keep the handler's type", async () => {
    const wrapped = cacheControl({ maxAge: 60 })(hello);
    expectTypeOf(wrapped).toEqualTypeOf(hello);
    expect(await wrapped(request(), { GREETING: "hi" }, "!").text()).toBe("hi!");

    const app = { greeting: "hey", fetch: varyOnCookie(function (this: { greeting: string }, _: Request) { return new Response(this.greeting) }) };
    expect(await app.fetch(request()).text()).toBe("hey");
  });

  it("stay synchronous around a synchronous handler", () => {
    const response = neverCache((_: Request) => new Response("x"))(request());
    expect(response).toBeInstanceOf(Response);
  });

  it("work on async handlers and on fetch() responses with immutable headers", async () => {
    const proxied = cacheControl({ public: true })(async (_: Request) => fetch("data:text/plain,upstream"));
    const response = await proxied(request());
    expect(response.headers.get("cache-control")).toBe("public");
    expect(await response.text()).toBe("upstream");
  });

  it("reject a handler that is not a function", () => {
    expect(() => neverCache("nope" as unknown as Handler)).toThrow(/handler must be a function/);
  });
});

describe("cacheControl (Django's cache_control)", () => {
  it("patches every response, with the min rule and public/private exclusivity", async () => {
    const handler = cacheControl({ private: true, maxAge: 120 })(
      (_: Request) => new Response("x", { headers: { "Cache-Control": "public, max-age=60, must-revalidate" } }));
    expect(handler(request()).headers.get("cache-control")).toBe("max-age=60, must-revalidate, private");
  });

  it("validates directives when wrapping, not per request", () => {
    expect(() => cacheControl({ maxAge: Number.NaN })).toThrow(/maxAge must be a non-negative finite number/);
    expect(() => cacheControl({ public: true, private: true })).toThrow(TypeError);
  });
});

describe("neverCache (Django's never_cache)", () => {
  it("writes Django's exact never-cache headers", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1167616461000);
    const response = neverCache((_: Request) => new Response("x", { headers: { "Cache-Control": "public, max-age=600" } }))(request());
    expect(response.headers.get("cache-control")).toBe("max-age=0, no-cache, no-store, must-revalidate, private");
    expect(response.headers.get("expires")).toBe("Mon, 01 Jan 2007 01:54:21 GMT");
  });
});

describe("varyOnHeaders / varyOnCookie", () => {
  it("add the names to Vary (Django's vary_on_headers / vary_on_cookie)", () => {
    expect(varyOnHeaders("Header", "Another-header")((_: Request) => new Response())(request()).headers.get("vary"))
      .toBe("Header, Another-header");
    expect(varyOnCookie((_: Request) => new Response(null, { headers: { Vary: "Accept-Encoding" } }))(request()).headers.get("vary"))
      .toBe("Accept-Encoding, Cookie");
  });

  it("validate the names when wrapping", () => {
    expect(() => varyOnHeaders("Accept Language")).toThrow(/"Accept Language" is not a header name/);
    expect(() => varyOnHeaders(7 as unknown as string)).toThrow(TypeError);
  });
});

describe("conditionalGet", () => {
  it("tags GET responses and answers 304 to a revalidation, keeping the 304's headers", async () => {
    const page = conditionalGet((_: Request) => new Response("hello", {
      headers: { "Cache-Control": "max-age=60", "Content-Language": "en" },
    }));
    const first = await page(request());
    const etag = first.headers.get("etag") as string;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const second = await page(request({ "If-None-Match": etag }));
    expect(second.status).toBe(304);
    expect(Object.fromEntries(second.headers)).toEqual({ "cache-control": "max-age=60", "etag": etag });
  });

  it("has a factory with a configurable ETag cap", async () => {
    const page = createConditionalGet({ maxEtagBytes: 3 })((_: Request) => new Response("hello"));
    const response = await page(request());
    expect(response.headers.has("etag")).toBe(false);
    expect(await response.text()).toBe("hello");
    expect(() => createConditionalGet({ maxEtagBytes: 1.5 })).toThrow(/maxEtagBytes/);
  });
});

describe("compose", () => {
  it("applies wrappers outermost first: compose(a, b)(h) behaves as a(b(h))", async () => {
    const log: string[] = [];
    const tag = (name: string): Wrapper => (handler) => (async (req: Request, ...args: unknown[]) => {
      log.push(`${name} in`);
      const response = await handler(req, ...args);
      log.push(`${name} out`);
      return response;
    }) as typeof handler;
    await compose(tag("a"), tag("b"))((_: Request) => new Response())(request());
    expect(log).toEqual(["a in", "b in", "b out", "a out"]);
  });

  it("puts cacheControl inside neverCache so that never-cache wins", () => {
    const handler = compose(neverCache, cacheControl({ public: true, maxAge: 3600 }))((_: Request) => new Response());
    expect(handler(request()).headers.get("cache-control")).toBe("max-age=0, no-cache, no-store, must-revalidate, private");
  });

  it("keeps the handler's type, and compose() is the identity", () => {
    const composed = compose(varyOnCookie, neverCache)(hello);
    expectTypeOf(composed).toEqualTypeOf(hello);
    const handler = (_: Request) => new Response();
    expect(compose()(handler)).toBe(handler);
  });

  it("rejects an argument that is not a wrapper", () => {
    expect(() => compose(neverCache, null as unknown as Wrapper)).toThrow(/wrappers\[1\] must be a function/);
  });
});
