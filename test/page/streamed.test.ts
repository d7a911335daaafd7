/**
 * Pages on a backend with streams (the Cache API's layout, here over memory): a hit answers with
 * the stored body as it streams, whatever its size, and every body looked up but not answered
 * with is cancelled.
 */
import { describe, expect, it } from "vitest";
import { createCache, writeStreamed } from "../../src/cache.ts";
import { cachePage } from "../../src/page/cache-page.ts";
import { getCacheKey } from "../../src/page/keys.ts";
import { fakeClock } from "../conformance/fake-clock.ts";
import { streamingMemory } from "../fixtures/streaming-memory.ts";

const BODY = `<h1>Cheeses</h1>${"<p>Stilton, Roquefort, Gouda</p>".repeat(2400)}`; // about 77 KiB: many chunks
const SMALL = "<h1>Cheeses</h1>";

function setup(fixture: Parameters<typeof streamingMemory>[0] = {}) {
  const clock = fakeClock();
  const { backend, bodies } = streamingMemory({ now: clock.now, chunkBytes: 4096, ...fixture });
  const cache = createCache({ backend });
  const pending: Promise<unknown>[] = [];
  const errors: unknown[] = [];
  let calls = 0;
  let respond = (): Response | Promise<Response> => new Response(BODY, { headers: { "content-type": "text/html", etag: '"v1"' } });
  const options = { cache, now: clock.now, waitUntil: (p: Promise<unknown>) => void pending.push(p), onError: (e: unknown) => errors.push(e) };
  const handler = (extra: Parameters<typeof cachePage>[1] = {}) => cachePage(60, { ...options, ...extra })((_request: Request) => {
    calls++;
    return respond();
  });
  return {
    clock, cache, backend, bodies, errors, handler, options,
    calls: () => calls,
    respondWith: (next: typeof respond) => void (respond = next),
    settle: async () => {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}

const get = (init?: RequestInit) => new Request("https://example.com/cheeses", init);

describe("streamed pages", () => {
  it.each([
    ["the head alone", { chunkBytes: 1000 }],
    ["some body bytes with the head", { chunkBytes: 777, bodyBytesInHead: 5 }],
  ])("answer a hit with the stored body as it streams (%s comes first)", async (_label, fixture) => {
    const t = setup(fixture);
    const handler = t.handler();
    expect(await (await handler(get())).text()).toBe(BODY);
    await t.settle();
    const hit = await handler(get());
    expect(hit.headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
    expect(hit.headers.get("content-type")).toBe("text/html");
    expect(t.bodies).toEqual({ opened: 1, cancelled: 0, read: 0 }); // answered before the body was read
    expect(await hit.text()).toBe(BODY);
    expect(t.calls()).toBe(1);
    expect(t.bodies).toEqual({ opened: 1, cancelled: 0, read: 1 });
  });

  it("answer a Range request on a hit with those bytes of the stored body, reading it no further", async () => {
    const t = setup();
    const handler = t.handler();
    await (await handler(get())).text();
    await t.settle();
    const ranged = await handler(get({ headers: { range: "bytes=5000-9999" } }));
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 5000-9999/${BODY.length}`);
    expect(await ranged.text()).toBe(BODY.slice(5000, 10000));
    expect(t.bodies).toEqual({ opened: 1, cancelled: 1, read: 0 });
  });

  it("stream small pages too, so a store failing mid-body cuts the answer short (as a proxy's would be)", async () => {
    const t = setup({ failBodies: true, chunkBytes: 4 });
    t.respondWith(() => new Response(SMALL, { headers: { "content-type": "text/html" } }));
    await (await t.handler()(get())).text();
    await t.settle();
    const hit = await t.handler()(get());
    expect(hit.headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
    expect(t.bodies).toEqual({ opened: 1, cancelled: 0, read: 0 }); // answered before the body was read
    await expect(hit.text()).rejects.toThrow("the store dropped the connection mid-body");
    expect(t.calls()).toBe(1);
  });

  it("are stored so that plain reads still see them: getCacheKey and purging work", async () => {
    const t = setup();
    await (await t.handler()(get())).text();
    await t.settle();
    const key = await getCacheKey(get(), { cache: t.cache });
    expect(key).toBe("page.GET.0:.https://example.com/cheeses");
    await t.cache.delete(key!);
    expect((await t.handler()(get())).headers.get("cache-status")).toBe("edgecache; fwd=uri-miss; stored");
  });

  it("give each hit its own Age, Cache-Status and Content-Length, however many hits share a second", async () => {
    const t = setup();
    const handler = t.handler();
    await (await handler(get())).text();
    await t.settle();
    const headers = async (init?: RequestInit) => {
      const answer = await handler(get(init));
      await answer.body?.cancel();
      return Object.fromEntries(["age", "cache-status", "content-length", "content-type"].map((name) => [name, answer.headers.get(name)]));
    };
    const first = { age: "0", "cache-status": "edgecache; hit; ttl=60", "content-length": null, "content-type": "text/html" };
    expect(await headers()).toEqual(first);
    expect(await headers()).toEqual(first);
    expect(await headers({ method: "HEAD" })).toEqual({ ...first, "content-length": String(new TextEncoder().encode(BODY).byteLength) });
    t.clock.advance(2);
    expect(await headers()).toEqual({ ...first, age: "2", "cache-status": "edgecache; hit; ttl=58" });
  });

  it("answer HEAD with the stored length and no body, cancelling the stored one", async () => {
    const t = setup();
    await (await t.handler()(get())).text();
    await t.settle();
    const head = await t.handler()(get({ method: "HEAD" }));
    expect(head.headers.get("content-length")).toBe(String(new TextEncoder().encode(BODY).byteLength));
    expect(head.body).toBeNull();
    expect(t.bodies.cancelled).toBe(1);
  });

  it("answer a conditional request with 304 from the stored ETag and cancel the body", async () => {
    const t = setup();
    await (await t.handler()(get())).text();
    await t.settle();
    const notModified = await t.handler()(get({ headers: { "if-none-match": '"v1"' } }));
    expect(notModified.status).toBe(304);
    expect(t.bodies.cancelled).toBe(1);
  });

  it("cancel the stored body when a request with Authorization may not have the page", async () => {
    const t = setup();
    await (await t.handler()(get())).text();
    await t.settle();
    const authorized = await t.handler()(get({ headers: { authorization: "Bearer x" } }));
    expect(await authorized.text()).toBe(BODY);
    expect(t.calls()).toBe(2);
    expect(t.bodies).toMatchObject({ opened: 1, cancelled: 1 });
  });

  it("serve a stale page when the handler fails, and cancel it when the handler succeeds", async () => {
    const t = setup();
    const handler = t.handler({ staleIfError: 300 });
    await (await handler(get())).text();
    await t.settle();
    t.clock.advance(61);
    t.respondWith(() => new Response("down", { status: 503 }));
    const stale = await handler(get());
    expect(stale.headers.get("cache-status")).toMatch(/detail=stale-if-error/);
    expect(await stale.text()).toBe(BODY);
    t.clock.advance(5); // past errorBackoffMs, so the handler is called again
    t.respondWith(() => new Response("fresh", { headers: { "content-type": "text/html" } }));
    expect(await (await handler(get())).text()).toBe("fresh");
    expect(t.bodies).toEqual({ opened: 2, cancelled: 1, read: 1 });
  });

  it("serve a stale page while one request refreshes it", async () => {
    const t = setup();
    const handler = t.handler({ staleWhileRevalidate: 30 });
    await (await handler(get())).text();
    await t.settle();
    t.clock.advance(61);
    const stale = await handler(get());
    expect(stale.headers.get("cache-status")).toMatch(/detail=revalidating/);
    expect(await stale.text()).toBe(BODY);
    await t.settle();
    expect(t.calls()).toBe(2);
    expect((await t.handler()(get())).headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
  });

  it("read a vary index as a plain value and the variant page as a stream", async () => {
    const t = setup();
    t.respondWith(() => new Response(BODY, { headers: { vary: "Accept-Language" } }));
    const en = () => get({ headers: { "accept-language": "en" } });
    await (await t.handler()(en())).text();
    await t.settle();
    // A new isolate (an identity of its own hides the store from this isolate's memos): no memoised vary list, so the index is read.
    const hit = await t.handler({ cache: createCache({ backend: { ...t.backend, identity: {} } }) })(en());
    expect(hit.headers.get("cache-status")).toBe("edgecache; hit; ttl=60");
    expect(await hit.text()).toBe(BODY);
    expect(t.bodies).toEqual({ opened: 2, cancelled: 0, read: 2 }); // the index's body, then the page's
  });

  it("treat a streamed entry that is not a page as a miss: cancelled, reported and replaced", async () => {
    const t = setup();
    await writeStreamed(t.cache, "page.GET.0:.https://example.com/cheeses", new TextEncoder().encode("not a page head"), new Uint8Array(10));
    const response = await t.handler()(get());
    expect(response.headers.get("cache-status")).toBe("edgecache; fwd=uri-miss; stored");
    expect(await response.text()).toBe(BODY);
    expect(t.errors).toHaveLength(1);
    expect(t.bodies).toMatchObject({ opened: 1, cancelled: 1 });
  });
  it("lets go of a streamed page whose read came back after the time limit: its body is cancelled, not left open", async () => {
    const clock = fakeClock();
    const { backend, bodies } = streamingMemory({ now: clock.now, chunkBytes: 4096 });
    let late = false;
    const slow = { ...backend, capabilities: { ...backend.capabilities, shared: true, local: false }, streams: { ...backend.streams!, get: async (key: string) => {
      if (late) await new Promise((resolve) => setTimeout(resolve, 30));
      return backend.streams!.get(key);
    } } };
    const pending: Array<Promise<unknown>> = [];
    const handler = cachePage(60, { cache: createCache({ backend: slow }), now: clock.now, timeoutMs: 10, waitUntil: (p) => void pending.push(p), onError: () => {} })((_request: Request) => new Response(BODY));
    await (await handler(get())).text();
    await Promise.all(pending.splice(0));
    late = true;
    const answer = await handler(get());
    expect(answer.headers.get("cache-status")).toBe("edgecache; fwd=miss; stored");
    await answer.text();
    await expect.poll(() => bodies.cancelled).toBe(1);
    expect(bodies.opened).toBe(1);
  });
});
