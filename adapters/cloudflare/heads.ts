/**
 * The heads of streamed entries, which both Cloudflare adapters keep base64-encoded beside the
 * body (in a Cache API header, in KV metadata). A page's head is the same on every hit until the
 * page is stored again, so each is decoded once and the same bytes are handed out again: page
 * caching memoises its own decoding by those bytes, and a repeat hit skips base64, UTF-8 and
 * header parsing altogether. Callers must not modify the bytes (the backend contract's rule).
 */
import { LRUCache } from "lru-cache";
import { fromBase64 } from "../../src/bytes.ts";

/** Room for a few hundred typical heads (a few hundred bytes each), or a hundred of the largest. */
const MEMO_CHARS = 2 ** 20;

const decoded = new LRUCache<string, Uint8Array>({ maxSize: MEMO_CHARS, sizeCalculation: (bytes, text) => 1 + text.length + bytes.byteLength });

/**
 * The bytes of a base64-encoded head; the same text gives the same bytes. `undefined` when the
 * text is not base64 (an entry this backend did not write).
 *
 * @example
 * const head = headBytes(response.headers.get("x-edgecache")!.split(",")[3]!);
 */
export function headBytes(base64: string): Uint8Array | undefined {
  let bytes = decoded.get(base64);
  if (bytes === undefined) {
    try {
      bytes = fromBase64(base64);
    } catch {
      return undefined;
    }
    decoded.set(base64, bytes);
  }
  return bytes;
}
