/**
 * edgecache/otel against the real OpenTelemetry SDK: metrics collected by a MeterProvider's
 * reader, page outcomes set on the active span of a real tracer (context kept by the Node SDK's
 * AsyncLocalStorage context manager).
 */
import { context, metrics } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { type DataPoint, type Histogram, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memory } from "../adapters/memory.ts";
import { tiered } from "../adapters/tiered.ts";
import type { Backend } from "../src/backend.ts";
import { cachePage as honoCachePage } from "../src/hono.ts";
import { cachePage, createCache } from "../src/index.ts";
import { telemetry } from "../src/otel.ts";

/** A reader the test collects from when it wants to. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A meter and a way to read what it recorded: each counter's points, by their attributes. */
function recorder() {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const collect = async (name: string): Promise<Array<{ attributes: Record<string, unknown>; value: number }>> => {
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((found) => found.descriptor.name === name);
    return ((metric?.dataPoints ?? []) as Array<DataPoint<number>>).map(({ attributes, value }) => ({ attributes, value }));
  };
  return { meter: provider.getMeter("test"), provider, reader, collect };
}

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => void context.setGlobalContextManager(contextManager.enable()));
afterAll(() => {
  context.disable();
  contextManager.disable();
});

describe("edgecache/otel", () => {
  it("counts low-level reads by operation and hit, and names the cache", async () => {
    const { meter, collect } = recorder();
    const otel = telemetry({ meter, name: "values" });
    const cache = createCache({ backend: memory(), ...otel.cache });
    await cache.set("a", 1);
    await cache.get("a");
    await cache.get("a");
    await cache.get("missing");
    await cache.getMany(["a", "b"]);
    expect(await collect("edgecache.reads")).toEqual(expect.arrayContaining([
      { attributes: { "edgecache.cache.name": "values", "edgecache.operation": "get", "edgecache.hit": true }, value: 2 },
      { attributes: { "edgecache.cache.name": "values", "edgecache.operation": "get", "edgecache.hit": false }, value: 1 },
      { attributes: { "edgecache.cache.name": "values", "edgecache.operation": "getMany", "edgecache.hit": true }, value: 1 },
      { attributes: { "edgecache.cache.name": "values", "edgecache.operation": "getMany", "edgecache.hit": false }, value: 1 },
    ]));
  });

  it("counts page outcomes, and sets them on the request's active span", async () => {
    const { meter, collect } = recorder();
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("test");
    const otel = telemetry({ meter });
    const writes: Promise<unknown>[] = [];
    const page = cachePage(60, { cache: createCache({ backend: memory() }), waitUntil: (write) => void writes.push(write), ...otel.page })(
      async (request: Request) => new Response("page", { headers: new URL(request.url).pathname === "/private" ? { "set-cookie": "sid=1" } : {} }),
    );
    const serve = (path: string) => tracer.startActiveSpan(`GET ${path}`, async (span) => {
      await (await page(new Request(`https://example.com${path}`))).text();
      await Promise.all(writes.splice(0));
      span.end();
    });
    await serve("/");
    await serve("/");
    await serve("/private");
    expect(await collect("edgecache.pages")).toEqual(expect.arrayContaining([
      { attributes: { "edgecache.page.result": "uri-miss", "edgecache.page.stored": true, "http.request.method": "GET" }, value: 1 },
      { attributes: { "edgecache.page.result": "hit", "http.request.method": "GET" }, value: 1 },
      { attributes: { "edgecache.page.result": "uri-miss", "edgecache.page.stored": false, "edgecache.page.detail": "set-cookie", "http.request.method": "GET" }, value: 1 },
    ]));
    expect(exporter.getFinishedSpans().map((span) => [span.name, span.attributes])).toEqual([
      ["GET /", { "edgecache.page.result": "uri-miss", "edgecache.page.stored": true }],
      ["GET /", { "edgecache.page.result": "hit" }],
      ["GET /private", { "edgecache.page.result": "uri-miss", "edgecache.page.stored": false, "edgecache.page.detail": "set-cookie" }],
    ]);
  });

  it("tells a stale page served (stale-hit) from one found too old and rendered again (stale)", async () => {
    const { meter, collect } = recorder();
    let now = 0;
    const writes: Promise<unknown>[] = [];
    const page = cachePage(10, { cache: createCache({ backend: memory({ now: () => now }) }), now: () => now, staleWhileRevalidate: 10, staleIfError: 100, waitUntil: (write) => void writes.push(write), ...telemetry({ meter }).page })(
      async (_request: Request) => new Response("page"),
    );
    const serve = async () => {
      await (await page(new Request("https://example.com/"))).text();
      await Promise.all(writes.splice(0));
    };
    await serve();
    now = 15_000; // stale, within stale-while-revalidate: served, and refreshed behind it
    await serve();
    now = 25_000; // the refreshed page's very expiry (ttl=0): stale too
    await serve();
    now = 60_000; // past it (kept for stale-if-error): found too old, rendered again
    await serve();
    const results = (await collect("edgecache.pages")).map(({ attributes, value }) => [attributes["edgecache.page.result"], value]).sort();
    expect(results).toEqual([["stale", 1], ["stale-hit", 2], ["uri-miss", 1]]);
  });

  it("records a request method outside HTTP's own as _OTHER, so clients cannot add series", async () => {
    const { meter, collect } = recorder();
    const page = cachePage(60, { cache: createCache({ backend: memory() }), ...telemetry({ meter }).page })(async (_request: Request) => new Response("page"));
    await (await page(new Request("https://example.com/", { method: "POST" }))).text();
    await (await page(new Request("https://example.com/", { method: "PURGE-EVERYTHING-1234" }))).text();
    expect((await collect("edgecache.pages")).map(({ attributes }) => attributes["http.request.method"]).sort()).toEqual(["POST", "_OTHER"]);
  });

  it("takes the page hooks in the Hono middleware too", async () => {
    const { meter, collect } = recorder();
    const app = new Hono().get("/", honoCachePage(60, { cache: createCache({ backend: memory() }), ...telemetry({ meter }).page }), (c) => c.text("page"));
    await (await app.request("/")).text();
    expect(await collect("edgecache.pages")).toEqual([{ attributes: { "edgecache.page.result": "uri-miss", "edgecache.page.stored": true, "http.request.method": "GET" }, value: 1 }]);
  });

  it("counts the errors answered as misses, by source, operation and error type", async () => {
    const { meter, collect } = recorder();
    const otel = telemetry({ meter });
    const broken: Backend = { name: "broken", get: () => Promise.reject(new TypeError("down")), set: () => Promise.resolve(), delete: () => Promise.resolve(false) };
    // A low-level read with ignoreErrors, and a page lookup: both answered as misses.
    await createCache({ backend: broken, ignoreErrors: true, ...otel.cache }).get("a");
    const page = cachePage(60, { cache: createCache({ backend: broken }), ...otel.page })(async (_request: Request) => new Response("page"));
    expect(await (await page(new Request("https://example.com/"))).text()).toBe("page");
    expect(await collect("edgecache.errors")).toEqual(expect.arrayContaining([
      { attributes: { "edgecache.source": "cache", "edgecache.operation": "get", "error.type": "TypeError" }, value: 1 },
      { attributes: { "edgecache.source": "page", "edgecache.operation": "lookup", "error.type": "TypeError" }, value: 1 },
    ]));
  });

  it("records how long each call to the store took, in seconds, by backend, operation and failure", async () => {
    const { meter, reader } = recorder();
    const otel = telemetry({ meter });
    const cache = createCache({ backend: memory(), ...otel.cache });
    await cache.set("a", 1);
    await cache.get("a");
    await cache.get("b");
    const broken: Backend = { name: "broken", get: () => Promise.reject(new TypeError("down")), set: () => Promise.resolve(), delete: () => Promise.resolve(false) };
    await createCache({ backend: broken, ...otel.cache }).get("a").catch(() => {});
    const { resourceMetrics } = await reader.collect();
    const histogram = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === "edgecache.backend.duration")!;
    expect(histogram.descriptor.unit).toBe("s");
    const points = (histogram.dataPoints as Array<DataPoint<Histogram>>).map(({ attributes, value }) => ({ attributes, count: value.count, boundaries: value.buckets.boundaries }));
    expect(points.map(({ attributes, count }) => ({ attributes, count }))).toEqual([
      { attributes: { "edgecache.backend": "memory", "edgecache.operation": "set" }, count: 1 },
      { attributes: { "edgecache.backend": "memory", "edgecache.operation": "get" }, count: 2 },
      { attributes: { "edgecache.backend": "broken", "edgecache.operation": "get", "error.type": "TypeError" }, count: 1 },
    ]);
    expect(points[0]!.boundaries[0]).toBe(0.0005); // buckets for seconds, not the SDK's default milliseconds
  });

  it("counts a tiered backend's reads by tier", async () => {
    const { meter, collect } = recorder();
    const otel = telemetry({ meter });
    const cache = createCache({ backend: tiered({ near: memory(), far: memory(), ...otel.tiered }) });
    await cache.set("a", 1);
    await cache.get("a"); // near: written through on set
    await cache.get("b"); // near miss, far miss
    expect(await collect("edgecache.tiered.reads")).toEqual(expect.arrayContaining([
      { attributes: { "edgecache.tier": "near", "edgecache.hit": true }, value: 1 },
      { attributes: { "edgecache.tier": "far", "edgecache.hit": false }, value: 1 },
    ]));
  });

  describe("with the app's global meter provider", () => {
    afterAll(() => metrics.disable());

    it("records there by default, into a provider registered after the hooks were made", async () => {
      const otel = telemetry(); // at module scope, before the app's telemetry set-up
      const global = recorder();
      metrics.setGlobalMeterProvider(global.provider);
      const cache = createCache({ backend: memory(), ...otel.cache });
      await cache.get("a");
      expect(await global.collect("edgecache.reads")).toEqual([{ attributes: { "edgecache.operation": "get", "edgecache.hit": false }, value: 1 }]);
    });
  });

  it("names a bad option", () => {
    expect(() => telemetry({ name: "" })).toThrow("options.name must be a non-empty string");
    expect(() => telemetry({ meter: {} as never })).toThrow("options.meter.createCounter must be a function");
    expect(() => telemetry({ spans: "yes" as never })).toThrow("options.spans must be true or false");
  });
});
