import { describe, expect, it } from "vitest";
import { getRangeResponse, ifRangeHolds, parseRange } from "../../src/http/range.ts";

describe("parseRange", () => {
  it.each([
    ["bytes=0-99", { first: 0, last: 99 }],
    ["bytes=100-", { first: 100, last: 999 }],
    ["bytes=-100", { first: 900, last: 999 }],
    ["bytes=-5000", { first: 0, last: 999 }],
    ["bytes=990-5000", { first: 990, last: 999 }],
    ["Bytes=7-7", { first: 7, last: 7 }],
  ] as const)("reads %s of a 1000-byte representation as %j", (value, range) => {
    expect(parseRange(value, 1000)).toEqual(range);
  });

  it.each(["bytes=1000-", "bytes=5000-6000", "bytes=-0"])("finds %s unsatisfiable", (value) => {
    expect(parseRange(value, 1000)).toBe("unsatisfiable");
  });

  it("finds every range of an empty representation unsatisfiable", () => {
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
    expect(parseRange("bytes=-1", 0)).toBe("unsatisfiable");
  });

  it.each([null, "", "bytes", "items=0-1", "bytes=a-b", "bytes=5-2", "bytes=0-1,5-6", "bytes=-", "bytes=1.5-2", "bytes=0x1-2"])("ignores %j", (value) => {
    expect(parseRange(value, 1000)).toBeUndefined();
  });
});

describe("ifRangeHolds", () => {
  const lastModified = "Wed, 21 Oct 2026 07:28:00 GMT";
  it.each([
    [null, {}, true],
    ['"v1"', { etag: '"v1"' }, true],
    ['"v1"', { etag: '"v2"' }, false],
    ['W/"v1"', { etag: 'W/"v1"' }, false],
    ['"v1"', { etag: 'W/"v1"' }, false],
    ['"v1"', {}, false],
    [lastModified, { lastModified, date: "Wed, 21 Oct 2026 07:28:01 GMT" }, true],
    // A Last-Modified within a second of the response's Date (or without one) is weak: it may name two versions.
    [lastModified, { lastModified, date: lastModified }, false],
    [lastModified, { lastModified }, false],
    [lastModified, { lastModified: "Wed, 21 Oct 2026 07:28:01 GMT", date: "Wed, 21 Oct 2026 08:00:00 GMT" }, false],
    [lastModified, {}, false],
    ["spam", { etag: '"v1"', lastModified }, false],
  ] as const)("If-Range %j against %j: %s", (value, validators, holds) => {
    expect(ifRangeHolds(value, validators)).toBe(holds);
  });
});

/** A 200 over `text`, streamed in chunks of `size` bytes. */
function chunked(text: string, size: number, headers: HeadersInit = {}): Response {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.subarray(offset, (offset += size)));
    },
  });
  return new Response(body, { headers });
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz";

describe("getRangeResponse", () => {
  it("answers one range with a 206 of those bytes, across chunks, keeping the headers", async () => {
    const request = new Request("https://example.com/", { headers: { range: "bytes=3-12" } });
    const ranged = getRangeResponse(request, chunked(ALPHABET, 4, { "content-type": "text/plain", etag: '"v1"' }), 26);
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe("bytes 3-12/26");
    expect(ranged.headers.get("content-length")).toBe("10");
    expect(ranged.headers.get("content-type")).toBe("text/plain");
    expect(ranged.headers.get("etag")).toBe('"v1"');
    expect(await ranged.text()).toBe("defghijklm");
  });

  it("reads the body only as far as the range", async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new TextEncoder().encode("0123456789"));
      },
    });
    const ranged = getRangeResponse(new Request("https://example.com/", { headers: { range: "bytes=0-14" } }), new Response(body), 1_000_000);
    expect(await ranged.text()).toBe("012345678901234");
    expect(pulls).toBeLessThanOrEqual(3);
  });

  it("answers an unsatisfiable range with a 416 naming the length, and cancels the body", async () => {
    let cancelled = false;
    const body = new ReadableStream({ cancel: () => void (cancelled = true) });
    const answer = getRangeResponse(new Request("https://example.com/", { headers: { range: "bytes=30-" } }), new Response(body), 26);
    expect(answer.status).toBe(416);
    expect(answer.headers.get("content-range")).toBe("bytes */26");
    expect(cancelled).toBe(true);
  });

  it("answers whole when Range does not apply: other methods and statuses, an ignored Range, a failed If-Range", () => {
    const whole = (init: RequestInit, response = new Response(ALPHABET, { headers: { etag: '"v1"' } })) =>
      getRangeResponse(new Request("https://example.com/", init), response, 26) === response;
    expect(whole({ method: "HEAD", headers: { range: "bytes=0-1" } })).toBe(true);
    expect(whole({ headers: { range: "bytes=0-1" } }, new Response(ALPHABET, { status: 203 }))).toBe(true);
    expect(whole({ headers: { range: "bytes=0-1,4-5" } })).toBe(true);
    expect(whole({ headers: { range: "bytes=0-1", "if-range": '"v2"' } })).toBe(true);
    expect(whole({})).toBe(true);
    expect(whole({ headers: { range: "bytes=0-1", "if-range": '"v1"' } })).toBe(false);
  });

  it("fails the 206's body rather than send fewer bytes than its Content-Length when the body ends early", async () => {
    const ranged = getRangeResponse(new Request("https://example.com/", { headers: { range: "bytes=20-29" } }), chunked(ALPHABET, 8), 30);
    await expect(ranged.text()).rejects.toThrow(/ended at byte 26, before the range's end at 30/);
  });
});
