/**
 * The floor for `bench/http.bench.ts`: a Hono app on @hono/node-server whose one route answers,
 * from an async middleware, with a Response built from bytes and headers it was given (the cached
 * page's, captured from the demo). It is what any cache's hit costs at best on this stack: an
 * async middleware answering a prebuilt page, with no lookup at all.
 *
 * Environment: `PORT` (0 takes a free one), `PAGE` (JSON: `{ status, headers, body }`, the body
 * base64). It prints `listening on http://localhost:<port>`.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";

/**
 * A captured response, as the bench passes it in `PAGE`.
 *
 * @example
 * const page: CapturedPage = { status: 200, headers: [["content-type", "text/html"]], body: "PGgxPg==" };
 */
export interface CapturedPage {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

const page = JSON.parse(process.env.PAGE ?? "") as CapturedPage;
const body = new Uint8Array(Buffer.from(page.body, "base64"));
const app = new Hono();
app.get("/prebuilt", async (c) => {
  c.res = new Response(body, { status: page.status, headers: Object.fromEntries(page.headers) });
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0) }, ({ port }) => console.log(`listening on http://localhost:${port}`));
process.once("SIGTERM", () => server.close());
