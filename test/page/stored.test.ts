import { describe, expect, it } from "vitest";
import { concatBytes } from "../../src/bytes.ts";
import { decodeStoredPage, type StoredPage, storedPageHead } from "../../src/page/stored.ts";

/** A page's bytes as a backend without streams keeps them: head, then body. */
const encodeStoredPage = (page: StoredPage) => concatBytes(storedPageHead(page), page.body);

const page: StoredPage = {
  status: 200,
  headers: [["content-type", "text/html"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]],
  body: new TextEncoder().encode("<p>hi</p>"),
  storedAt: 1_000,
  ageOnArrival: 7,
  freshUntil: 61_000,
  staleWhileRevalidateUntil: 61_000,
  staleIfErrorUntil: 61_000,
  shareable: false,
  bodiless: false,
};

describe("stored pages", () => {
  it("decode to what was encoded, with a header record only when no name repeats", () => {
    const decoded = decodeStoredPage(encodeStoredPage(page))!;
    expect({ ...decoded, headerRecord: undefined, bodyLength: undefined, answerHeaders: undefined, validated: undefined }).toEqual({ ...page, headerRecord: undefined, bodyLength: undefined, answerHeaders: undefined });
    expect(decoded.bodyLength).toBe(page.body.byteLength);
    expect(decoded.headerRecord).toBeUndefined();
    const single = decodeStoredPage(encodeStoredPage({ ...page, headers: [["content-type", "text/html"], ["etag", '"x"']] }))!;
    expect(single.headerRecord).toEqual({ "content-type": "text/html", etag: '"x"' });
  });

  it("decode the same bytes once: a page read again from an in-isolate store costs no decoding", () => {
    const bytes = encodeStoredPage(page);
    expect(decodeStoredPage(bytes)).toBe(decodeStoredPage(bytes));
    expect(decodeStoredPage(bytes.subarray(0))).toBe(decodeStoredPage(bytes));
    expect(decodeStoredPage(encodeStoredPage(page))).not.toBe(decodeStoredPage(bytes));
    expect(Object.isFrozen(decodeStoredPage(bytes))).toBe(true);
  });

  it("are not confused with other bytes that share a buffer", () => {
    const bytes = encodeStoredPage(page);
    const buffer = new Uint8Array(bytes.byteLength * 2);
    buffer.set(bytes);
    buffer.set(encodeStoredPage({ ...page, status: 404 }).subarray(0, bytes.byteLength), bytes.byteLength);
    expect(decodeStoredPage(buffer.subarray(0, bytes.byteLength))!.status).toBe(200);
    expect(decodeStoredPage(buffer.subarray(bytes.byteLength))!.status).toBe(404);
  });

  it("keep a tagged page's tags and time, and read a cut-off tag block as no page", () => {
    const tagged = { ...page, tagged: { tags: ["product:42", "ümlaut tag"], at: 999 } };
    const bytes = encodeStoredPage(tagged);
    const decoded = decodeStoredPage(bytes)!;
    expect(decoded.tagged).toEqual({ tags: ["product:42", "ümlaut tag"], at: 999 });
    expect(new TextDecoder().decode(decoded.body as Uint8Array)).toBe("<p>hi</p>");
    expect(decodeStoredPage(encodeStoredPage(page))!.tagged).toBeUndefined();
    const head = storedPageHead(tagged);
    expect(decodeStoredPage(head.subarray(0, head.byteLength - 1))).toBeUndefined();
  });

  it("read a page stored by the previous version of the format (without its age on arrival) as one that arrived new", () => {
    const head = storedPageHead(page);
    // Version 1: the same fixed fields up to the four times, then no age on arrival.
    const v1 = concatBytes(concatBytes(Uint8Array.of(0x45, 0x50, 0x01), head.subarray(3, 38)), concatBytes(head.subarray(42), page.body));
    const decoded = decodeStoredPage(v1)!;
    expect(decoded.ageOnArrival).toBe(0);
    expect({ ...decoded, ageOnArrival: 7, headerRecord: undefined, bodyLength: undefined, answerHeaders: undefined, validated: undefined }).toEqual({ ...page, headerRecord: undefined, bodyLength: undefined, answerHeaders: undefined });
  });

  it("read a head a Response could not be made from as no page: a status out of 200–599, a header a Headers refuses, a time that is not a number", () => {
    const corrupt: StoredPage[] = [
      { ...page, status: 0 }, { ...page, status: 101 }, { ...page, status: 999 },
      { ...page, headers: [["bad name", "x"]] }, { ...page, headers: [["", "x"]] },
      { ...page, headers: [["x-a", "nul\0byte"]] }, { ...page, headers: [["x-a", "carriage\rreturn"]] }, { ...page, headers: [["x-a", "not latin-1: \u20ac"]] },
      { ...page, freshUntil: Number.NaN }, { ...page, storedAt: Number.NaN },
    ];
    for (const each of corrupt) expect(decodeStoredPage(encodeStoredPage(each))).toBeUndefined();
    const odd = { ...page, headers: [["x-a", "latin-1 \u00e9, a tab\tand DEL \u007f"]] as Array<[string, string]> };
    expect(decodeStoredPage(encodeStoredPage(odd))!.headers).toEqual(odd.headers);
  });

  it("keep a header named __proto__, which a record cannot hold, in the list alone", () => {
    const decoded = decodeStoredPage(encodeStoredPage({ ...page, headers: [["__proto__", "kept"], ["content-type", "text/plain"]] }))!;
    expect(decoded.headers).toEqual([["__proto__", "kept"], ["content-type", "text/plain"]]);
    expect(decoded.headerRecord).toBeUndefined();
  });

  it("read anything else as no page", () => {
    for (const value of [undefined, "page", new Uint8Array(3), Uint8Array.of(0x45, 0x50, 0x01), Uint8Array.of(0x45, 0x50, 0x02), concatBytes(Uint8Array.of(0x45, 0x50, 0x03), storedPageHead(page).subarray(3))]) expect(decodeStoredPage(value)).toBeUndefined();
  });
});
