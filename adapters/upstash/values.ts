/**
 * How the Upstash backend keeps opaque bytes in Redis strings that travel as JSON text.
 *
 * - Decimal integers (`"42"`, `"-7"`) are stored as they are, so `INCRBY` works on them.
 * - Any other bytes are stored as `b64:` followed by their base64 text. The tag keeps them apart
 *   from integers (base64 text can be all digits) and makes them invalid JSON, so even a client
 *   left with `automaticDeserialization` on hands them back untouched.
 */

import { fromBase64, toBase64 } from "../../src/bytes.ts";

const DECIMAL_INTEGER = /^(0|-?[1-9][0-9]{0,19})$/;
const BYTES_TAG = "b64:";
const utf8 = new TextEncoder();

/**
 * The Redis string for `bytes`: plain decimal text for integers, `b64:`-tagged base64 otherwise.
 *
 * @example
 * toRedisValue(new TextEncoder().encode("42")) // "42"
 * toRedisValue(Uint8Array.of(0xd9, 0xd9, 0xf7)) // "b64:2dn3"
 */
export function toRedisValue(bytes: Uint8Array): string {
  if (bytes.length <= 21) {
    const text = String.fromCharCode(...bytes);
    if (DECIMAL_INTEGER.test(text)) return text;
  }
  return BYTES_TAG + toBase64(bytes);
}

/**
 * The bytes behind a value read from Redis. Numbers (from a client that JSON-parses results) are
 * turned back into their decimal text; anything that is not ours comes back as its UTF-8 bytes,
 * which the codec then rejects as a corrupt entry.
 *
 * @example
 * fromRedisValue("b64:2dn3") // Uint8Array [0xd9, 0xd9, 0xf7]
 * fromRedisValue(42)         // the bytes of "42"
 */
export function fromRedisValue(value: unknown): Uint8Array {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text.startsWith(BYTES_TAG)) {
    try {
      return fromBase64(text.slice(BYTES_TAG.length));
    } catch {
      // not valid base64: fall through to the raw text, which the codec reports as corrupt
    }
  }
  return utf8.encode(text);
}
