/**
 * Bun: a page cached with `cachePage` and tagged by `conditionalGet`, served by `Bun.serve`.
 * The first request renders the page (`Cache-Status: edgecache; fwd=uri-miss; stored`), later
 * ones for the next 60 seconds come from the in-process memory cache (`edgecache; hit; ttl=…`),
 * and a browser revalidating with If-None-Match gets a 304.
 *
 * Run it from the repository root (after `npm install`, which provides `bun` too):
 *   PORT=3000 npx bun examples/bun/server.ts
 *   curl -i http://localhost:3000/
 */
import { cachePage, compose, conditionalGet } from "../../src/index.ts";

/** The part of Bun's API this example uses (the repository does not install Bun's types). */
declare const Bun: {
  version: string;
  env: Record<string, string | undefined>;
  serve(options: { hostname: string; port: number; fetch: (request: Request) => Response | Promise<Response> }): { url: URL };
};

/** Renders a page that shows when it was made, so a cached copy is easy to spot. */
function render(request: Request): Response {
  const html = `<!doctype html><h1>Hello from Bun ${Bun.version}</h1><p>${new URL(request.url).pathname} rendered at ${new Date().toISOString()}</p>`;
  return new Response(html, { headers: { "Content-Type": "text/html; charset=utf-8" } });
}

const server = Bun.serve({
  hostname: Bun.env.HOST ?? "127.0.0.1",
  port: Number(Bun.env.PORT ?? 3000),
  fetch: compose(cachePage(60), conditionalGet)(render),
});
console.log(`Listening on ${server.url}`);
