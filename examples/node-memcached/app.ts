/**
 * A Hono app whose slow pages are cached in a memcached pool with `cachePage`, whose visit
 * counter is memcached's atomic increment, and whose greeting is a value any process can change.
 * `server.ts` serves it with @hono/node-server.
 */
import { Hono } from "hono";
import { html } from "hono/html";
import { BackendUnavailableError, cachePage, type EdgeCache } from "../../src/index.ts";

/** Stands in for slow work: a database query, an upstream API, a template render. `html` escapes the name: it comes from the URL, and the page is cached. */
async function renderReport(name: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return (await html`<h1>Report ${name}</h1><p>built at ${new Date().toISOString()}</p>`).toString();
}

/**
 * The app, storing into `cache`.
 *
 * @example
 * // GET /reports/daily -> the same page (and "Cache-Status: edgecache; hit") for 60 s
 * // GET /visits        -> {"visits":1}, then {"visits":2}, ... shared by every process of the site
 * // PUT /greeting      -> stores the request body; GET /greeting -> {"greeting":"..."} in every process
 * const app = createApp(createCache({ backend: memcached({ servers: "10.0.0.1:11211;10.0.0.2:11211" }) }));
 */
export function createApp(cache: EdgeCache): Hono {
  // Django's @cache_page(60) on one view: wrap a fetch handler, then route to it.
  const report = cachePage(60, { cache, onError: (error) => console.error("page cache:", error) })(
    async (request: Request) => new Response(await renderReport(new URL(request.url).pathname.split("/").pop()!), {
      headers: { "Content-Type": "text/html; charset=utf-8" },
    }),
  );
  const app = new Hono();
  app.get("/reports/:name", (c) => report(c.req.raw));
  app.get("/visits", async (c) => {
    await cache.add("visits", 0, { timeout: null });
    return c.json({ visits: await cache.incr("visits") });
  });
  app.get("/greeting", async (c) => {
    // The default stands in while the store is down: a greeting is never worth an error page.
    const greeting = await cache.get("greeting", { default: "hello" }).catch((error: unknown) => {
      console.error("greeting:", error);
      return "hello";
    });
    return c.json({ greeting });
  });
  app.put("/greeting", async (c) => {
    await cache.set("greeting", await c.req.text(), { timeout: null });
    return c.body(null, 204);
  });
  // The counter and the greeting's writes need the store: while its server is down, say so (503,
  // to retry) rather than answer 500 with a stack trace. Pages go on without it (a miss each).
  app.onError((error, c) => {
    console.error(error);
    return error instanceof BackendUnavailableError ? c.json({ error: "the cache is unavailable, try again" }, 503) : c.text("Internal Server Error", 500);
  });
  return app;
}
