/** cacheControl, neverCache, varyOnHeaders, varyOnCookie and conditionalGet as Hono middleware. */
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cacheControl, conditionalGet, createConditionalGet, neverCache, varyOnCookie, varyOnHeaders } from "../../src/hono.ts";
import { client } from "./helpers.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("header middleware", () => {
  it("cacheControl patches the handler's Cache-Control with the min rule", async () => {
    const app = new Hono().get("/", cacheControl({ public: true, maxAge: 120 }), (c) => c.text("x", 200, { "Cache-Control": "max-age=60" }));
    expect((await client(app)("/")).headers.get("cache-control")).toBe("max-age=60, public");
  });

  it("cacheControl leaves an error below alone, as Django's leaves a view that raised: Hono's onError answer is not made cacheable", async () => {
    const app = new Hono().get("/feed", cacheControl({ public: true, maxAge: 3600 }), () => {
      throw new Error("database down");
    });
    const errors: string[] = [];
    app.onError((error, c) => (errors.push(error.message), c.text("error", 500)));
    const answer = await client(app)("/feed");
    expect([answer.status, answer.body, answer.headers.get("cache-control")]).toEqual([500, "error", null]);
    expect(errors).toEqual(["database down"]); // heard once, not again for the middleware
  });

  it("cacheControl validates its directives when the middleware is built", () => {
    expect(() => cacheControl({ public: true, private: true })).toThrow(TypeError);
  });

  it("neverCache writes Django's never-cache headers over the handler's", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1167616461000);
    const app = new Hono().get("/", neverCache, (c) => c.text("x", 200, { "Cache-Control": "public, max-age=600" }));
    const answer = await client(app)("/");
    expect(answer.headers.get("cache-control")).toBe("max-age=0, no-cache, no-store, must-revalidate, private");
    expect(answer.headers.get("expires")).toBe("Mon, 01 Jan 2007 01:54:21 GMT");
  });

  it("varyOnHeaders and varyOnCookie add to Vary, stacked on one route", async () => {
    const app = new Hono().get("/", varyOnHeaders("Accept-Language"), varyOnCookie, (c) => c.text("x", 200, { Vary: "Accept-Encoding" }));
    expect((await client(app)("/")).headers.get("vary")).toBe("Accept-Encoding, Cookie, Accept-Language");
  });

  it("apply to every route below app.use, 404s included", async () => {
    const app = new Hono();
    app.use(varyOnCookie);
    app.get("/a", (c) => c.text("a"));
    const get = client(app);
    expect([(await get("/a")).headers.get("vary"), (await get("/missing")).headers.get("vary")]).toEqual(["Cookie", "Cookie"]);
  });
});

describe("conditionalGet middleware", () => {
  it("tags GET responses and answers a matching If-None-Match with 304 and no body", async () => {
    let calls = 0;
    const app = new Hono();
    app.use(conditionalGet);
    app.get("/", (c) => {
      calls++;
      return c.text("page v1");
    });
    const get = client(app);
    const first = await get("/");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const again = await get("/", { headers: { "If-None-Match": etag! } });
    expect([again.status, again.body, again.headers.get("etag"), calls]).toEqual([304, "", etag, 2]);
  });

  it("answers a failed If-Match with 412", async () => {
    const app = new Hono().get("/", conditionalGet, (c) => c.text("x", 200, { ETag: '"v2"' }));
    expect((await client(app)("/", { headers: { "If-Match": '"v1"' } })).status).toBe(412);
  });

  it("createConditionalGet leaves bodies over maxEtagBytes untagged", async () => {
    const app = new Hono().get("/", createConditionalGet({ maxEtagBytes: 4 }), (c) => c.text("longer than four bytes"));
    const answer = await client(app)("/");
    expect([answer.body, answer.headers.get("etag")]).toEqual(["longer than four bytes", null]);
  });

  it("leaves HEAD alone, as Django does (GET only): no body, no ETag", async () => {
    const app = new Hono().get("/", conditionalGet, (c) => c.text("page"));
    const head = await client(app)("/", { method: "HEAD" });
    expect([head.status, head.body, head.headers.get("etag")]).toEqual([200, "", null]);
  });
});
