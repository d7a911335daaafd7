/**
 * The `npm start` demo app: Django's classic cache tutorial on Hono. One page takes two seconds
 * to build (a slow upstream) and is cached for a minute, then served stale for five more while
 * it is rebuilt in the background; it is filed under the tag `cheeses`, which `POST
 * /cheeses/purge` purges (with the purge token: a purge makes the next request wait for a
 * rebuild, so it is not for anyone). One page is per visitor (varyOnCookie, and `private` for
 * the caches downstream, which may not honour Vary: Cookie); one is never cached; and
 * `/hello` is a bare route with no caching at all (the benchmark's baseline). Pages live in the
 * embedded default cache: memory, in this process.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { bearerAuth } from "hono/bearer-auth";
import { html } from "hono/html";
import { cacheControl, cachePage, neverCache, varyOnCookie } from "../../src/hono.ts";
import { purgeTag } from "../../src/index.ts";

/** Options of the demo app. */
export interface DemoOptions {
  /** How long the slow upstream takes, in milliseconds. Default 2000. */
  slowMs?: number;
  /** What `POST /cheeses/purge` asks for, as `Authorization: Bearer <token>`. Default `"dev-only-purge-token"`: set your own. */
  purgeToken?: string;
}

/** Stands in for a slow database query or upstream API. */
async function slowUpstream(ms: number): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ["Cheddar", "Gouda", "Roquefort", "Stilton"];
}

/**
 * The demo app.
 *
 * @example
 * // GET /slow  -> 2 s, "Cache-Status: edgecache; fwd=uri-miss; stored"; then instant, "edgecache; hit; ttl=60"
 * // GET /me    -> cached per Cookie:  curl -b user=alice ... and curl -b user=bob ... get their own pages
 * // GET /now   -> never cached:       "Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private"
 * // POST /cheeses/purge (Authorization: Bearer <purgeToken>) -> /slow is built again on its next request (?soft=1: served stale while it is)
 * serve({ fetch: createApp().fetch, port: 3000 });
 */
export function createApp({ slowMs = 2000, purgeToken = "dev-only-purge-token" }: DemoOptions = {}): Hono {
  const app = new Hono();

  app.get("/", (c) => c.html(html`<h1>edgecache demo</h1>
<ul>
  <li><a href="/slow">/slow</a>: takes ${slowMs / 1000} s to build, then comes from the cache for 60 s, then stale for 5 minutes while it is rebuilt in the background</li>
  <li><code>curl -X POST -H "Authorization: Bearer &lt;token&gt;" /cheeses/purge</code>: purges the tag <code>cheeses</code>, so /slow is built again (<code>?soft=1</code>: served stale meanwhile)</li>
  <li><a href="/me">/me</a>: a page per visitor, cached per Cookie (try <code>curl -b user=alice</code>)</li>
  <li><a href="/now">/now</a>: never cached</li>
  <li><a href="/hello">/hello</a>: a bare route, no caching</li>
</ul>`));

  app.get("/slow", cachePage(60, { tags: ["cheeses"], staleWhileRevalidate: 300, app }), async (c) => {
    const cheeses = await slowUpstream(slowMs);
    return c.html(html`<h1>Cheeses</h1><ul>${cheeses.map((name) => html`<li>${name}</li>`)}</ul><p>Built at ${new Date().toISOString()}</p>`);
  });

  // Cached here per cookie; `private` for every cache below this server, as many CDNs and proxies
  // ignore Vary: Cookie and would hand one visitor's page to the next. Set after the page cache has
  // judged the response, so it does not keep the page out of this one.
  app.get("/me", cacheControl({ private: true }), cachePage(60), varyOnCookie, (c) => {
    const user = getCookie(c, "user") ?? "stranger";
    return c.html(html`<h1>Hello, ${user}</h1><p>Your page was built at ${new Date().toISOString()}</p>`);
  });

  app.post("/cheeses/purge", bearerAuth({ token: purgeToken }), async (c) => {
    await purgeTag("cheeses", { soft: c.req.query("soft") === "1" });
    return c.body(null, 204);
  });

  app.get("/now", neverCache, (c) => c.text(`It is ${new Date().toISOString()}`));

  app.get("/hello", (c) => c.text("Hello, world!"));

  return app;
}
