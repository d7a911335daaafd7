import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compileConditionalGet, conditionalRequestHeaders, evaluateConditional, getConditionalResponse, notModified, parseETags, quoteETag,
} from "../../src/http/conditional.ts";
import { anyString, headerValue } from "./arbitraries.ts";

const URL = "https://example.com/page";
const HELLO_SHA256 = '"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"';
const EARLY = "Sat, 12 Feb 2011 17:35:44 GMT";
const LATE = "Sat, 12 Feb 2011 17:41:44 GMT";
const conditionalGet = compileConditionalGet();

function get(headers: Record<string, string> = {}, method = "GET"): Request {
  return new Request(URL, { method, headers });
}

/** A stream of `count` chunks of `size` bytes (endless when count is Infinity), counting its reads. */
function countingStream(size: number, count: number): { stream: ReadableStream<Uint8Array>; pulls: () => number } {
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ < count) controller.enqueue(new Uint8Array(size).fill(97));
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return { stream, pulls: () => pulls };
}

describe("parseETags / quoteETag (Django's parse_etags / quote_etag)", () => {
  it("keeps valid tags only, and * alone", () => {
    expect(parseETags('"a", W/"b", spam, "c,d"')).toEqual(['"a"', 'W/"b"', '"c,d"']);
    // A backslash in an entity tag escapes nothing (RFC 9110 §8.8.3): the tag after it is read.
    expect(parseETags('"a\\", "v2"')).toEqual(['"a\\"', '"v2"']);
    expect(parseETags('"open, "z", "x" "y"')).toEqual(['"z"']);
    expect(parseETags(" * ")).toEqual(["*"]);
    expect(parseETags(null)).toEqual([]);
  });

  it("quotes unless already an entity tag", () => {
    expect(quoteETag("etag")).toBe('"etag"');
    expect(quoteETag('"etag"')).toBe('"etag"');
    expect(quoteETag('W/"etag"')).toBe('W/"etag"');
  });

  it("never throws, whatever the input", () => {
    fc.assert(fc.property(anyString, (value) => {
      parseETags(value);
    }));
  });
});

describe("evaluateConditional (RFC 9110 §13.2.2 as Django orders it)", () => {
  it.each<[Record<string, string>, string, { etag?: string; lastModified?: string }, string]>([
    [{ "If-None-Match": '"v1"' }, "GET", { etag: '"v1"' }, "not-modified"],
    [{ "If-None-Match": 'W/"v1"' }, "GET", { etag: '"v1"' }, "not-modified"],
    [{ "If-None-Match": '"v1"' }, "HEAD", { etag: 'W/"v1"' }, "not-modified"],
    [{ "If-None-Match": '"v0", "v1"' }, "GET", { etag: '"v1"' }, "not-modified"],
    [{ "If-None-Match": "*" }, "GET", { etag: '"v1"' }, "not-modified"],
    [{ "If-None-Match": '"v0"' }, "GET", { etag: '"v1"' }, "proceed"],
    [{ "If-None-Match": '"v1"' }, "GET", {}, "proceed"],
    [{ "If-None-Match": '"v1"' }, "PUT", { etag: '"v1"' }, "precondition-failed"],
    [{ "If-None-Match": "spam" }, "GET", { etag: '"v1"' }, "proceed"],
    [{ "If-Match": '"v1"' }, "PUT", { etag: '"v1"' }, "proceed"],
    [{ "If-Match": '"v0"' }, "PUT", { etag: '"v1"' }, "precondition-failed"],
    [{ "If-Match": 'W/"v1"' }, "PUT", { etag: 'W/"v1"' }, "precondition-failed"],
    [{ "If-Match": "*" }, "PUT", { etag: '"v1"' }, "proceed"],
    [{ "If-Match": "*" }, "PUT", {}, "precondition-failed"],
    [{ "If-Modified-Since": LATE }, "GET", { lastModified: EARLY }, "not-modified"],
    [{ "If-Modified-Since": EARLY }, "GET", { lastModified: EARLY }, "not-modified"],
    [{ "If-Modified-Since": EARLY }, "GET", { lastModified: LATE }, "proceed"],
    [{ "If-Modified-Since": "yesterday" }, "GET", { lastModified: EARLY }, "proceed"],
    [{ "If-Modified-Since": LATE }, "POST", { lastModified: EARLY }, "proceed"],
    [{ "If-Modified-Since": LATE }, "GET", {}, "proceed"],
    [{ "If-None-Match": '"v0"', "If-Modified-Since": LATE }, "GET", { etag: '"v1"', lastModified: EARLY }, "proceed"],
    [{ "If-Unmodified-Since": LATE }, "PUT", { lastModified: EARLY }, "proceed"],
    [{ "If-Unmodified-Since": EARLY }, "PUT", { lastModified: LATE }, "precondition-failed"],
    [{ "If-Unmodified-Since": EARLY }, "GET", { etag: '"v1"' }, "precondition-failed"],
    [{ "If-Match": '"v1"', "If-Unmodified-Since": EARLY }, "PUT", { etag: '"v1"', lastModified: LATE }, "proceed"],
    [{}, "GET", { etag: '"v1"', lastModified: EARLY }, "proceed"],
  ])("%j on %s with %j → %s", (headers, method, validators, expected) => {
    expect(evaluateConditional(get(headers, method), validators)).toBe(expected);
  });

  it("never throws on malformed conditional headers or validators", () => {
    fc.assert(fc.property(headerValue, headerValue, anyString, anyString, (inm, ims, etag, lastModified) => {
      const request = get({ "If-None-Match": inm, "If-Modified-Since": ims, "If-Match": inm, "If-Unmodified-Since": ims });
      evaluateConditional(request, { etag, lastModified });
    }));
  });
});

describe("conditionalRequestHeaders", () => {
  const CONDITIONALS = ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"];
  const value = fc.oneof(headerValue, fc.constantFrom('"v1"', 'W/"v1"', "*", EARLY, LATE));

  it("lists every header that can change the answer to a GET or HEAD: without them, the response proceeds", () => {
    fc.assert(fc.property(
      fc.option(fc.constantFrom('"v1"', 'W/"v1"', ""), { nil: undefined }),
      fc.option(fc.constantFrom(EARLY, LATE, "not a date"), { nil: undefined }),
      fc.dictionary(fc.constantFrom(...CONDITIONALS), value),
      fc.constantFrom("GET", "HEAD"),
      (etag, lastModified, sent, method) => {
        const listed = conditionalRequestHeaders({ etag, lastModified });
        const unlisted = Object.fromEntries(Object.entries(sent).filter(([name]) => !listed.includes(name)));
        expect(evaluateConditional(get(unlisted, method), { etag, lastModified })).toBe("proceed");
      },
    ));
  });

  it("always lists If-Match and If-Unmodified-Since, which fail without validators", () => {
    expect(conditionalRequestHeaders({})).toEqual(["if-match", "if-unmodified-since"]);
    expect(conditionalRequestHeaders({ etag: '"v1"' })).toEqual(["if-match", "if-unmodified-since", "if-none-match"]);
    expect(conditionalRequestHeaders({ lastModified: EARLY })).toEqual(["if-match", "if-unmodified-since", "if-modified-since"]);
    expect([...conditionalRequestHeaders({ etag: '"v1"', lastModified: EARLY })].sort()).toEqual([...CONDITIONALS].sort());
  });
});

describe("notModified", () => {
  it("keeps only the headers RFC 9110 asks a 304 to repeat, every Set-Cookie included", () => {
    const headers = new Headers({
      "Date": EARLY, "Last-Modified": EARLY, "Expires": LATE, "Vary": "Cookie", "Cache-Control": "public",
      "Content-Location": "/test", "Content-Language": "en", "Content-Type": "text/html", "ETag": '"v1"',
    });
    headers.append("Set-Cookie", "a=1");
    headers.append("Set-Cookie", "b=2");
    const response = notModified(new Response("body", { headers }));
    expect(response.status).toBe(304);
    expect(response.body).toBeNull();
    expect([...response.headers]).toEqual([
      ["cache-control", "public"], ["content-location", "/test"], ["date", EARLY], ["etag", '"v1"'],
      ["expires", LATE], ["last-modified", EARLY], ["set-cookie", "a=1"], ["set-cookie", "b=2"], ["vary", "Cookie"],
    ]);
  });
});

describe("getConditionalResponse", () => {
  it("answers 304, 412 or the response itself", async () => {
    const fresh = () => new Response("body", { headers: { ETag: '"v1"' } });
    expect(getConditionalResponse(get({ "If-None-Match": '"v1"' }), fresh()).status).toBe(304);
    const failed = getConditionalResponse(get({ "If-Match": '"v0"' }, "DELETE"), fresh());
    expect([failed.status, await failed.text()]).toEqual([412, ""]);
    const response = fresh();
    expect(getConditionalResponse(get({ "If-None-Match": '"v0"' }), response)).toBe(response);
  });

  it("leaves non-2xx responses alone", () => {
    const notFound = new Response("gone", { status: 404, headers: { ETag: '"v1"' } });
    expect(getConditionalResponse(get({ "If-None-Match": '"v1"' }), notFound)).toBe(notFound);
  });
});

describe("compileConditionalGet (Django's ConditionalGetMiddleware)", () => {
  it("adds a strong SHA-256 ETag to a 200 GET response with a body", async () => {
    const response = await conditionalGet(get(), new Response("hello", { headers: { "Content-Type": "text/plain" } }));
    expect(response.headers.get("etag")).toBe(HELLO_SHA256);
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(await response.text()).toBe("hello");
  });

  it("answers 304 to a matching If-None-Match, 200 otherwise", async () => {
    expect((await conditionalGet(get({ "If-None-Match": HELLO_SHA256 }), new Response("hello"))).status).toBe(304);
    expect((await conditionalGet(get({ "If-None-Match": '"other"' }), new Response("hello"))).status).toBe(200);
  });

  it("answers 304 from Last-Modified and If-Modified-Since", async () => {
    const response = await conditionalGet(get({ "If-Modified-Since": LATE }),
      new Response(null, { status: 200, headers: { "Last-Modified": EARLY } }));
    expect(response.status).toBe(304);
  });

  it("answers 412 to a failed If-Unmodified-Since", async () => {
    const response = await conditionalGet(get({ "If-Unmodified-Since": EARLY }),
      new Response("hello", { headers: { "Last-Modified": LATE } }));
    expect(response.status).toBe(412);
  });

  it("keeps an ETag the handler set", async () => {
    const response = await conditionalGet(get({ "If-None-Match": '"mine"' }), new Response("x", { headers: { ETag: '"mine"' } }));
    expect(response.status).toBe(304);
    expect(response.headers.get("etag")).toBe('"mine"');
  });

  it.each<[string, () => Response]>([
    ["no-store, in any case", () => new Response("x", { headers: { "Cache-Control": "No-Cache, No-Store, Max-age=0" } })],
    ["an empty body", () => new Response("")],
    ["no body", () => new Response(null)],
    ["a status other than 200", () => new Response("x", { status: 201 })],
    ["an event stream", () => new Response("data: 1\n\n", { headers: { "Content-Type": "text/event-stream" } })],
  ])("adds no ETag for %s", async (_, make) => {
    expect((await conditionalGet(get(), make())).headers.has("etag")).toBe(false);
  });

  it("still tags a response whose directive merely contains 'no-store'", async () => {
    const response = new Response("x", { headers: { "Cache-Control": 'my-directive="my-no-store"' } });
    expect((await conditionalGet(get(), response)).headers.has("etag")).toBe(true);
  });

  it("leaves HEAD and unsafe methods untouched", async () => {
    for (const method of ["HEAD", "POST"]) {
      const response = new Response(method === "HEAD" ? null : "x", { headers: { ETag: '"v1"' } });
      expect(await conditionalGet(get({ "If-None-Match": '"v1"' }, method), response)).toBe(response);
    }
  });

  it("passes a body over the cap through untagged, without reading past the cap", async () => {
    const { stream, pulls } = countingStream(1000, 10);
    const response = await compileConditionalGet({ maxEtagBytes: 2500 })(get(), new Response(stream));
    expect(response.headers.has("etag")).toBe(false);
    expect(pulls()).toBe(3);
    expect((await response.arrayBuffer()).byteLength).toBe(10_000);
  });

  it("does not hold back an endless stream, and cancelling reaches the source", async () => {
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(64 * 1024)),
      cancel: () => { cancelled = true; },
    });
    const response = await conditionalGet(get(), new Response(endless));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    expect(cancelled).toBe(true);
  });

  it("does not read a body whose Content-Length is over the cap", async () => {
    const { stream, pulls } = countingStream(10, 1);
    await compileConditionalGet({ maxEtagBytes: 5 })(get(), new Response(stream, { headers: { "Content-Length": "10" } }));
    expect(pulls()).toBe(0);
  });

  it("passes a body that fails while being read through, failing", async () => {
    const failing = new ReadableStream<Uint8Array>({ pull: (controller) => controller.error(new Error("boom")) });
    const response = await conditionalGet(get(), new Response(failing));
    await expect(response.text()).rejects.toThrow("boom");
  });

  it("validates maxEtagBytes", () => {
    expect(() => compileConditionalGet({ maxEtagBytes: Number.NaN })).toThrow(/maxEtagBytes must be an integer/);
    expect(() => compileConditionalGet({ maxEtagBytes: -1 })).toThrow(/maxEtagBytes must not be negative/);
  });
});
