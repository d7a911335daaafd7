/**
 * The cost of a page-cache hit, in process: a memory-backed `cachePage` hit against the bare
 * handler it wraps, which builds the same Response (same body, same headers) on every call.
 * Each operation is one request answered and its body read, as a server would. The same pair is
 * measured through Hono's `app.request()`: a bare route against the `cachePage` middleware's hit.
 * A third row is a hit on a page filed under two tags, whose purge records the isolate reads at
 * most once per `tagCheckMs` and remembers in between. A fourth is the plain hit reported to
 * OpenTelemetry by `edgecache/otel` (its outcome counted, its store call timed into a histogram),
 * into the metrics SDK (a MeterProvider whose reader exports once a minute). Target: a hit costs at most 2x the bare handler.
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { Hono } from "hono";
import { cachePage as cachePageMiddleware } from "../src/hono.ts";
import { cachePage, createCache } from "../src/index.ts";
import { telemetry } from "../src/otel.ts";
import { report, time } from "./lib.ts";

const body = `<h1>Cheeses</h1><ul>${["Cheddar", "Gouda", "Roquefort", "Stilton"].map((name) => `<li>${name}</li>`).join("")}</ul>`;
const headers = { "Content-Type": "text/html; charset=UTF-8" };
const handler = (_request: Request) => new Response(body, { headers });
const writes: Promise<unknown>[] = [];
const waitUntil = (write: Promise<unknown>) => void writes.push(write);
const cached = cachePage(600, { waitUntil })(handler);
const tagged = cachePage(600, { waitUntil, tags: ["cheeses", "catalogue"], keyPrefix: "tagged" })(handler);
const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 60_000 });
const meters = new MeterProvider({ readers: [reader] });
const otel = telemetry({ meter: meters.getMeter("bench") });
const observed = cachePage(600, { waitUntil, cache: createCache({ ...otel.cache }), ...otel.page })(handler);
const request = new Request("https://example.com/cheeses");

/** One request answered and its body read. */
async function serve(fetchHandler: (request: Request) => Response | Promise<Response>): Promise<void> {
  await (await fetchHandler(request)).arrayBuffer();
}

for (const wrapped of [cached, tagged, observed]) {
  await serve(wrapped); // the miss that stores the page
  await Promise.all(writes.splice(0));
  const check = await wrapped(request);
  if (!check.headers.get("cache-status")?.includes("hit")) throw new Error(`expected a hit, got ${check.headers.get("cache-status")}`);
}

report("handler call, body read", [
  await time("bare handler (baseline)", () => serve(handler)),
  await time("cachePage hit (memory)", () => serve(cached)),
  await time("  the same page filed under two tags", () => serve(tagged)),
  await time("  the plain hit, counted by edgecache/otel", () => serve(observed)),
]);
await meters.shutdown();

const app = new Hono();
app.get("/bare", (c) => c.html(body));
app.get("/cheeses", cachePageMiddleware(600, { waitUntil }), (c) => c.html(body));
await (await app.request("/cheeses")).arrayBuffer();
await Promise.all(writes.splice(0));
report("Hono app.request(), body read", [
  await time("bare c.html() route (baseline)", async () => (await app.request("/bare")).arrayBuffer()),
  await time("cachePage middleware hit (memory)", async () => (await app.request("/cheeses")).arrayBuffer()),
]);
