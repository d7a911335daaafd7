/**
 * The HTTP helpers on each runtime's own Request, Response, Headers, Date and crypto: Django's
 * header patching rules, HTTP-dates and conditional requests.
 */
import {
  addNeverCacheHeaders, formatHttpDate, getConditionalResponse, getMaxAge, hasVaryHeader, parseHttpDate,
  patchCacheControl, patchResponseHeaders, patchVaryHeaders,
} from "../../src/index.ts";
import { equal, suite, throws } from "./harness.ts";

const withHeaders = (headers: Record<string, string>, status = 200) => new Response("body", { status, headers });
const request = (headers: Record<string, string>, method = "GET") => new Request("https://example.com/page", { method, headers });

/**
 * The HTTP helpers suite.
 *
 * @example
 * await runTests([http], console.log);
 */
export default suite("http", (test) => {
  test("patchCacheControl merges directives as Django does", async () => {
    const patched = patchCacheControl(withHeaders({ "Cache-Control": 'public, max-age=60, no-cache="Set-Cookie"' }),
      { private: true, maxAge: 120, noCache: "Cookie", mustRevalidate: true, sMaxage: 30 });
    equal(patched.headers.get("cache-control"), 'max-age=60, no-cache="Set-Cookie, Cookie", private, must-revalidate, s-maxage=30');
    equal(patchCacheControl(patched, { noCache: true, private: false, sMaxage: false }).headers.get("cache-control"), "max-age=60, no-cache, must-revalidate");
    equal(getMaxAge(withHeaders({ "Cache-Control": "MAX-AGE=10, public" })), 10);
    await throws(() => patchCacheControl(withHeaders({}), { public: true, private: true }), TypeError, /mutually exclusive/);
  });

  test("patchVaryHeaders keeps order and spelling, ignores case, and collapses to *", () => {
    const patched = patchVaryHeaders(withHeaders({ Vary: "Accept-Encoding" }), ["Cookie", "accept-encoding"]);
    equal(patched.headers.get("vary"), "Accept-Encoding, Cookie");
    equal([hasVaryHeader(patched, "COOKIE"), hasVaryHeader(patched, "Accept")], [true, false]);
    equal(patchVaryHeaders(patched, ["*"]).headers.get("vary"), "*");
  });

  test("helpers return a patched copy when the response's headers are immutable", async () => {
    const redirect = Response.redirect("https://example.com/next", 302);
    const patched = patchVaryHeaders(patchCacheControl(redirect, { maxAge: 30 }), ["Cookie"]);
    equal([patched.status, patched.headers.get("location"), patched.headers.get("cache-control"), patched.headers.get("vary")],
      [302, "https://example.com/next", "max-age=30", "Cookie"]);
  });

  test("patchResponseHeaders and addNeverCacheHeaders write Django's expiry headers", () => {
    const now = () => 1468749600000;
    const patched = patchResponseHeaders(withHeaders({ "Cache-Control": "max-age=1" }), 2, { now });
    equal([patched.headers.get("expires"), patched.headers.get("cache-control")], ["Sun, 17 Jul 2016 10:00:02 GMT", "max-age=1"]);
    const never = addNeverCacheHeaders(withHeaders({ "Cache-Control": "public, max-age=600" }), { now });
    equal([never.headers.get("expires"), never.headers.get("cache-control")],
      ["Sun, 17 Jul 2016 10:00:00 GMT", "max-age=0, no-cache, no-store, must-revalidate, private"]);
  });

  test("HTTP-dates format as IMF-fixdate and parse in all three formats", () => {
    equal(formatHttpDate(new Date(784111777123)), "Sun, 06 Nov 1994 08:49:37 GMT");
    equal(["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"].map(parseHttpDate),
      [784111777000, 784111777000, 784111777000]);
    equal([parseHttpDate("Mon, 31 Feb 2025 00:00:00 GMT"), parseHttpDate("yesterday")], [undefined, undefined]);
  });

  test("getConditionalResponse answers 304 with the validators and 412 for a failed If-Match", async () => {
    const page = () => withHeaders({ ETag: '"v1"', "Last-Modified": "Sun, 06 Nov 1994 08:49:37 GMT", "Content-Language": "en" });
    const notModified = getConditionalResponse(request({ "If-None-Match": 'W/"v1", "v0"' }), page());
    equal([notModified.status, notModified.headers.get("etag"), notModified.headers.has("content-language"), await notModified.text()],
      [304, '"v1"', false, ""]);
    equal(getConditionalResponse(request({ "If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT" }), page()).status, 304);
    equal(getConditionalResponse(request({ "If-Match": '"v2"' }, "PUT"), page()).status, 412);
    equal(getConditionalResponse(request({ "If-None-Match": '"v1"' }), withHeaders({ ETag: '"v1"' }, 404)).status, 404);
    equal(await getConditionalResponse(request({ "If-None-Match": '"v0"' }), page()).text(), "body");
  });
});
