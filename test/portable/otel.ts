/**
 * `edgecache/otel` on each runtime: a page served twice through `cachePage`, counted (and its
 * store calls timed) into the OpenTelemetry metrics SDK, whose reader the test collects from.
 */
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { memory } from "../../adapters/memory.ts";
import { cachePage, createCache } from "../../src/index.ts";
import { telemetry } from "../../src/otel.ts";
import { equal, suite } from "./harness.ts";

/** A reader the test collects from when it wants to. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The OpenTelemetry suite.
 *
 * @example
 * await runTests([otel], console.log);
 */
export default suite("otel", (test) => {
  test("counts a page's miss and hit and the cache's reads, and times its store calls, into the metrics SDK", async () => {
    const reader = new TestReader();
    const otel = telemetry({ meter: new MeterProvider({ readers: [reader] }).getMeter("portable") });
    const writes: Promise<unknown>[] = [];
    const cache = createCache({ backend: memory(), ...otel.cache });
    const page = cachePage(60, { cache, waitUntil: (write) => void writes.push(write), ...otel.page })(async (_request: Request) => new Response("page"));
    for (let i = 0; i < 2; i++) {
      await (await page(new Request("https://example.com/"))).text();
      await Promise.all(writes.splice(0));
    }
    await cache.get("absent");
    const { resourceMetrics } = await reader.collect();
    const points = (name: string) => resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).filter((metric) => metric.descriptor.name === name)
      .flatMap((metric) => metric.dataPoints.map((point) => [point.attributes, point.value]));
    equal(points("edgecache.pages"), [
      [{ "edgecache.page.result": "uri-miss", "edgecache.page.stored": true, "http.request.method": "GET" }, 1],
      [{ "edgecache.page.result": "hit", "http.request.method": "GET" }, 1],
    ]);
    equal(points("edgecache.reads"), [[{ "edgecache.operation": "get", "edgecache.hit": false }, 1]]);
    // The store calls, timed: the miss's lookup, purge checks (before and after) and write, the hit's lookup, the get.
    const durations = points("edgecache.backend.duration").map(([attributes, value]) => [attributes, (value as { count: number }).count]);
    equal(durations, [[{ "edgecache.backend": "memory", "edgecache.operation": "get" }, 5], [{ "edgecache.backend": "memory", "edgecache.operation": "set" }, 1]]);
  });
});
