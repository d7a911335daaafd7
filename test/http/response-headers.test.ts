import { describe, expect, it } from "vitest";
import { addNeverCacheHeaders, patchResponseHeaders } from "../../src/http/response-headers.ts";

const T = 1468749600000; // Sun, 17 Jul 2016 10:00:00 GMT
const now = () => T;

function headersOf(response: Response): Record<string, string> {
  return Object.fromEntries(response.headers);
}

describe("patchResponseHeaders (Django's patch_response_headers)", () => {
  it("sets Expires and max-age from the timeout", () => {
    expect(headersOf(patchResponseHeaders(new Response("x"), 2, { now }))).toMatchObject({
      "expires": "Sun, 17 Jul 2016 10:00:02 GMT", "cache-control": "max-age=2",
    });
  });

  it("defaults to 600 seconds", () => {
    expect(headersOf(patchResponseHeaders(new Response("x"), undefined, { now }))).toMatchObject({
      "expires": "Sun, 17 Jul 2016 10:10:00 GMT", "cache-control": "max-age=600",
    });
  });

  it("keeps an existing Expires and a smaller max-age, appending max-age after other directives", () => {
    const response = new Response("x", { headers: { "Expires": "Mon, 18 Jul 2016 10:00:00 GMT", "Cache-Control": "max-age=10" } });
    expect(headersOf(patchResponseHeaders(response, 30, { now }))).toMatchObject({
      "expires": "Mon, 18 Jul 2016 10:00:00 GMT", "cache-control": "max-age=10",
    });
    expect(patchResponseHeaders(new Response("x", { headers: { "Cache-Control": "public" } }), 60, { now })
      .headers.get("cache-control")).toBe("public, max-age=60");
    expect(patchResponseHeaders(new Response("x", { headers: { "Cache-Control": "max-age=3600" } }), 60, { now })
      .headers.get("cache-control")).toBe("max-age=60");
  });

  it("treats a negative timeout as 0 and drops fractions from max-age", () => {
    expect(headersOf(patchResponseHeaders(new Response("x"), -5, { now }))).toMatchObject({
      "expires": "Sun, 17 Jul 2016 10:00:00 GMT", "cache-control": "max-age=0",
    });
    expect(patchResponseHeaders(new Response("x"), 1.5, { now }).headers.get("cache-control")).toBe("max-age=1");
  });

  it("writes a timeout over 2^31 s as 2^31 (RFC 9111), so Expires stays a date and max-age an integer", () => {
    for (const timeout of [2 ** 31 + 5, 1e13, 1e300]) {
      expect(headersOf(patchResponseHeaders(new Response("x"), timeout, { now }))).toMatchObject({
        "expires": "Fri, 04 Aug 2084 13:14:08 GMT", "cache-control": "max-age=2147483648",
      });
    }
  });

  it("rejects a timeout that is not a finite number", () => {
    expect(() => patchResponseHeaders(new Response(), Number.NaN)).toThrow(/timeout must be a finite number of seconds, got NaN/);
    expect(() => patchResponseHeaders(new Response(), "60" as unknown as number)).toThrow(TypeError);
  });

  it("returns a copy when the headers are immutable", () => {
    const response = patchResponseHeaders(Response.redirect("https://example.com/", 302), 5, { now });
    expect(response.headers.get("cache-control")).toBe("max-age=5");
  });
});

describe("addNeverCacheHeaders (Django's add_never_cache_headers)", () => {
  it("writes Django's exact header on a fresh response, with Expires now", () => {
    const response = addNeverCacheHeaders(new Response("x"), { now: () => 1167616461000 });
    expect(headersOf(response)).toMatchObject({
      "cache-control": "max-age=0, no-cache, no-store, must-revalidate, private",
      "expires": "Mon, 01 Jan 2007 01:54:21 GMT",
    });
  });

  it("drops public and keeps an existing Expires", () => {
    const response = addNeverCacheHeaders(new Response("x", {
      headers: { "Cache-Control": "public, max-age=600", "Expires": "Tue, 18 Jul 2016 10:00:00 GMT" },
    }), { now });
    expect(headersOf(response)).toMatchObject({
      "cache-control": "max-age=0, no-cache, no-store, must-revalidate, private",
      "expires": "Tue, 18 Jul 2016 10:00:00 GMT",
    });
  });

  it("replaces no-cache field names with a bare no-cache and keeps other directives", () => {
    const response = addNeverCacheHeaders(new Response("x", { headers: { "Cache-Control": 'no-cache="Set-Cookie", no-transform' } }), { now });
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform, max-age=0, no-store, must-revalidate, private");
  });
});
