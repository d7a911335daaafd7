/** fast-check generators for hostile header values. */
import fc from "fast-check";

const HEADER_SYNTAX = [..." \t,;=\"\\/*W-_.:0123456789aAzZ"];
const WORDS = ["max-age", "no-cache", "private", "public", "no-store", "s-maxage", "*", "Cookie", "W/", "GMT", "Nov"];

/** Strings a header can hold (printable ASCII and tabs), biased towards header syntax. */
export const headerValue = fc.oneof(
  fc.string({ unit: "grapheme-ascii", maxLength: 60 }),
  fc.string({ unit: fc.constantFrom(...HEADER_SYNTAX), maxLength: 40 }),
  fc.array(fc.oneof(fc.constantFrom(...WORDS), fc.constantFrom(...HEADER_SYNTAX)), { maxLength: 20 })
    .map((parts) => parts.join("")),
);

/** Any string at all, including control characters and lone surrogates: for pure parsers. */
export const anyString = fc.oneof(fc.string({ unit: "binary" }), headerValue);
