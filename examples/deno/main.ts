/**
 * Deno: a page cached with `cachePage` and tagged by `conditionalGet`, served by `deno serve`.
 * The first request renders the page (`Cache-Status: edgecache; fwd=uri-miss; stored`), later
 * ones for the next 60 seconds come from the in-isolate memory cache (`edgecache; hit; ttl=…`),
 * and a browser revalidating with If-None-Match gets a 304.
 *
 * Run it from the repository root (after `npm install`, which provides `deno` too):
 *   npx deno serve examples/deno/main.ts
 *   curl -i http://localhost:8000/
 */
import { cachePage, compose, conditionalGet } from "../../src/index.ts";

/** Renders a page that shows when it was made, so a cached copy is easy to spot. */
function render(request: Request): Response {
  const html = `<!doctype html><h1>Hello from Deno ${Deno.version.deno}</h1><p>${new URL(request.url).pathname} rendered at ${new Date().toISOString()}</p>`;
  return new Response(html, { headers: { "Content-Type": "text/html; charset=utf-8" } });
}

/**
 * The server, in the shape `deno serve` takes.
 *
 * @example
 * // first request:  200, Cache-Status: edgecache; fwd=uri-miss; stored
 * // second request: 200, Cache-Status: edgecache; hit; ttl=60, the same body
 * const response = await server.fetch(new Request("http://localhost:8000/"));
 */
const server = { fetch: compose(cachePage(60), conditionalGet)(render) } satisfies Deno.ServeDefaultExport;

export default server;
