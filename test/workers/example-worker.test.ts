/**
 * The example Worker end to end inside workerd: through its real entry point
 * (`exports.default.fetch`), and through `createApp` with a fake clock where time must pass.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../examples/worker/app.ts";
import { fakeClock } from "../conformance/fake-clock.ts";

const worker = exports.default;

/** Fetch through the Worker and read the body (so the response's cache write can finish). */
async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: string | null; body: string; response: Response }> {
  const response = await worker.fetch(`https://example.com${path}`, { headers });
  return { status: response.headers.get("cache-status"), body: await response.text(), response };
}

/** Wait for the cache write of the previous response: the Worker carries it with ctx.waitUntil. */
async function stored(path: string, headers: Record<string, string> = {}): Promise<string> {
  let status: string | null = null;
  for (let attempt = 0; attempt < 50 && !status?.includes("hit"); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    status = (await get(path, headers)).status;
  }
  return status ?? "";
}

describe("the example Worker", () => {
  for (const backend of ["kv", "cache-api"]) {
    it(`misses, then hits the same page (${backend})`, async () => {
      const first = await get(`/${backend}/miss-then-hit`);
      expect(first.status).toBe("edgecache; fwd=uri-miss; stored");
      expect(await stored(`/${backend}/miss-then-hit`)).toMatch(/^edgecache; hit; ttl=(29|30)$/);
      const hit = await get(`/${backend}/miss-then-hit`);
      expect(hit.body).toBe(first.body);
      expect(hit.response.headers.get("cache-control")).toBe("max-age=30");
      expect(Number(hit.response.headers.get("age"))).toBeGreaterThanOrEqual(0);
    });
  }

  for (const backend of ["kv", "cache-api"]) {
    it(`answers a Range request on a hit with a 206 of the stored page, streamed from the store (${backend})`, async () => {
      const path = `/${backend}/ranged`;
      const whole = await get(path);
      expect(await stored(path)).toMatch(/hit/);
      const ranged = await get(path, { range: "bytes=2-9" });
      expect([ranged.response.status, ranged.response.headers.get("content-range"), ranged.body, ranged.status])
        .toEqual([206, `bytes 2-9/${new TextEncoder().encode(whole.body).byteLength}`, whole.body.slice(2, 10), expect.stringMatching(/^edgecache; hit;/)]);
    });
  }

  it("purges a product's pages and its low-level summary by tag, and only that product's", async () => {
    const summary = async (id: string) => (await worker.fetch(`https://example.com/products/${id}/summary`)).json();
    await get("/products/42");
    await get("/products/7");
    expect(await stored("/products/42")).toMatch(/hit/);
    expect(await stored("/products/7")).toMatch(/hit/);
    const [before42, before7] = [await summary("42"), await summary("7")];
    expect([await summary("42"), await summary("7")]).toEqual([before42, before7]);
    expect((await worker.fetch("https://example.com/products/42/purge", { method: "POST" })).status).toBe(401); // not for anyone
    const purge = await worker.fetch("https://example.com/products/42/purge", { method: "POST", headers: { authorization: "Bearer dev-only-purge-token" } });
    expect(purge.status).toBe(204);
    expect((await get("/products/42")).status).toBe("edgecache; fwd=stale; stored");
    expect((await get("/products/7")).status).toMatch(/^edgecache; hit/);
    const after42 = await summary("42");
    expect(after42).not.toEqual(before42);
    expect([await summary("42"), await summary("7")]).toEqual([after42, before7]);
  });

  it("escapes what the URL puts in a page (Hono decodes it), and files a product's page under the tag its purge names", async () => {
    const page = await get("/kv/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E");
    expect(page.body).toContain("<h1>KV: /kv/&lt;img src%3Dx onerror%3Dalert(1)&gt;</h1>");
    expect(page.body).not.toContain("<img");
    await get("/products/caf%C3%A9");
    expect(await stored("/products/caf%C3%A9")).toMatch(/hit/);
    const purge = await worker.fetch("https://example.com/products/caf%C3%A9/purge", { method: "POST", headers: { authorization: "Bearer dev-only-purge-token" } });
    expect(purge.status).toBe(204);
    expect((await get("/products/caf%C3%A9")).status).toBe("edgecache; fwd=stale; stored");
  });

  it("keeps Accept-Language variants apart", async () => {
    const fr = await get("/greeting", { "accept-language": "fr" });
    expect(fr.body).toContain("Bonjour");
    expect(fr.response.headers.get("vary")).toBe("Accept-Language");
    expect(await stored("/greeting", { "accept-language": "fr" })).toMatch(/hit/);
    const en = await get("/greeting", { "accept-language": "en" });
    expect(en.status).toMatch(/fwd=vary-miss/);
    expect(en.body).toContain("Hello");
    expect(await stored("/greeting", { "accept-language": "en" })).toMatch(/hit/);
    expect((await get("/greeting", { "accept-language": "fr" })).body).toBe(fr.body);
  });

  it("refuses to store a page that sets a cookie", async () => {
    const first = await get("/login");
    expect(first.response.headers.get("set-cookie")).toContain("session=abc");
    expect(first.status).toBe("edgecache; fwd=uri-miss; detail=set-cookie");
    expect((await get("/login")).status).toBe("edgecache; fwd=uri-miss; detail=set-cookie");
  });

  it("serves cacheControl and neverCache routes with their headers and stores nothing", async () => {
    const statics = await get("/static");
    expect(statics.response.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(statics.status).toBeNull();
    const account = await get("/account");
    expect(account.response.headers.get("cache-control")).toBe("max-age=0, no-cache, no-store, must-revalidate, private");
  });

  it("reads a binding imported at module scope: /report is built once and then read from KV", async () => {
    const first = await (await worker.fetch("https://example.com/report")).json();
    const second = await (await worker.fetch("https://example.com/report")).json();
    expect(second).toEqual(first);
  });

  it("rebuilds /report behind the response once 80% of its 30 s have passed, answering with the old one meanwhile", async () => {
    const clock = fakeClock(Date.now());
    const app = createApp({ now: clock.now });
    const report = async () => {
      const ctx = createExecutionContext();
      const body: unknown = await (await app.fetch(new Request("https://example.com/report"), env, ctx)).json();
      await waitOnExecutionContext(ctx);
      return body;
    };
    const first = await report();
    expect(await report()).toEqual(first);
    clock.advance(25);
    expect(await report()).toEqual(first); // due: answered at once, rebuilt through ctx.waitUntil
    const rebuilt = await report();
    expect(rebuilt).not.toEqual(first);
    expect(await report()).toEqual(rebuilt);
  });

  for (const backend of ["kv", "cache-api"]) {
    it(`expires a 30 s page on time, under KV's 60 s minimum (${backend})`, async () => {
      const clock = fakeClock(Date.now());
      const app = createApp({ now: clock.now });
      const path = `https://example.com/${backend}/expiry`;
      const fetchPage = async (): Promise<string | null> => {
        const ctx = createExecutionContext();
        const response = await app.fetch(new Request(path), env, ctx);
        await response.text();
        await waitOnExecutionContext(ctx);
        return response.headers.get("cache-status");
      };
      expect(await fetchPage()).toBe("edgecache; fwd=uri-miss; stored");
      clock.advance(29);
      expect(await fetchPage()).toBe("edgecache; hit; ttl=1");
      clock.advance(1);
      expect(await fetchPage()).toBe("edgecache; fwd=uri-miss; stored");
      expect(await fetchPage()).toBe("edgecache; hit; ttl=30");
    });
  }

  it("serves /news stale at once after 30 s while ctx.waitUntil carries its refresh through the app", async () => {
    const clock = fakeClock(Date.now());
    const app = createApp({ now: clock.now });
    const fetchNews = async () => {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request("https://example.com/news"), env, ctx);
      const body = await response.text();
      await waitOnExecutionContext(ctx);
      return [body, response.headers.get("cache-status")];
    };
    const [rendered] = await fetchNews();
    clock.advance(40);
    expect(await fetchNews()).toEqual([rendered, "edgecache; hit; ttl=-10; detail=revalidating"]);
    // Stored again by the refresh, 40 s after the first: fresh for its whole 30 s.
    expect((await fetchNews())[1]).toBe("edgecache; hit; ttl=30");
  });

  it("carries cache writes with ctx.waitUntil", async () => {
    const app = createApp();
    const inner = createExecutionContext();
    const carried: Promise<unknown>[] = [];
    const ctx = Object.assign(Object.create(inner) as ExecutionContext, {
      waitUntil: (promise: Promise<unknown>) => {
        carried.push(promise);
        inner.waitUntil(promise);
      },
    });
    const response = await app.fetch(new Request("https://example.com/kv/carried"), env, ctx);
    await response.text();
    expect(carried).toHaveLength(1);
    await waitOnExecutionContext(inner);
    const again = await app.fetch(new Request("https://example.com/kv/carried"), env, createExecutionContext());
    expect(again.headers.get("cache-status")).toMatch(/^edgecache; hit/);
  });
});
