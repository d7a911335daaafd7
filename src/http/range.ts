/**
 * Range requests (RFC 9110 §14) answered from a whole representation, as a cache answers them
 * from what it stored: one byte range becomes a 206 with Content-Range, an unsatisfiable one a
 * 416. Several ranges, another unit, a malformed header or a failed If-Range get the whole 200,
 * which RFC 9110 allows ("a server MAY ignore the Range header field"). Never throws on bad input.
 */
import { parseHttpDate } from "./date.ts";
import { parseETags, type Validators } from "./conditional.ts";

/** A byte range of a representation: first and last byte offsets, both included. */
export interface ByteRange {
  first: number;
  last: number;
}

const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/**
 * The one byte range a Range value asks of a representation of `length` bytes, clipped to it;
 * `"unsatisfiable"` when it starts past the end (or the representation is empty); `undefined`
 * when the value is to be ignored: absent, malformed, another unit, or several ranges.
 *
 * @example
 * parseRange("bytes=0-99", 1000);   // { first: 0, last: 99 }
 * parseRange("bytes=-100", 1000);   // { first: 900, last: 999 }
 * parseRange("bytes=2000-", 1000);  // "unsatisfiable"
 * parseRange("bytes=0-1,5-6", 1000); // undefined: several ranges, answered whole
 */
export function parseRange(value: string | null, length: number): ByteRange | "unsatisfiable" | undefined {
  if (value === null) return undefined;
  const equals = value.indexOf("=");
  if (equals < 0 || value.slice(0, equals).trim().toLowerCase() !== "bytes") return undefined;
  const spec = value.slice(equals + 1).trim();
  const suffix = SUFFIX_RANGE.exec(spec);
  if (suffix) {
    const size = Number(suffix[1]);
    if (size === 0 || length === 0) return "unsatisfiable";
    return { first: Math.max(0, length - size), last: length - 1 };
  }
  const range = INT_RANGE.exec(spec);
  if (!range) return undefined;
  const first = Number(range[1]);
  const last = range[2] === "" ? Infinity : Number(range[2]);
  if (last < first) return undefined;
  if (first >= length) return "unsatisfiable";
  return { first, last: Math.min(last, length - 1) };
}

/**
 * Whether an If-Range value lets the Range apply to a representation with these validators
 * (RFC 9110 §13.1.5): an entity tag that matches its ETag strongly (weak tags never do), or a
 * date equal to its Last-Modified when that is a strong validator, its `date` at least a second
 * later (§8.8.2.2: two versions made within the second share a Last-Modified, and bytes of one
 * would be spliced onto the other). No If-Range: it applies.
 *
 * @example
 * ifRangeHolds('"v1"', { etag: '"v1"' });   // true
 * ifRangeHolds('W/"v1"', { etag: 'W/"v1"' }); // false
 */
export function ifRangeHolds(value: string | null, validators: Validators & { date?: string | null }): boolean {
  if (value === null) return true;
  const condition = value.trim();
  if (condition.startsWith('"') || condition.startsWith("W/")) {
    const [tag] = parseETags(condition);
    const etag = validators.etag?.trim();
    return tag !== undefined && !tag.startsWith("W/") && tag === etag;
  }
  const date = parseHttpDate(condition);
  const sent = parseHttpDate(validators.date);
  return date !== undefined && date === parseHttpDate(validators.lastModified) && sent !== undefined && sent - date >= 1000;
}

/**
 * The answer to `request`'s Range from `response`, a 200 whose body is the whole representation
 * of `length` bytes: a 206 with the range of the body (the response's headers kept, with
 * Content-Range and Content-Length), a 416 with `Content-Range: bytes *\/length`, or `response`
 * itself when Range does not apply (not a GET, no or an ignored Range, a failed If-Range). The
 * response's body is read only as far as the range, and cancelled when not answered with.
 *
 * @example
 * return getRangeResponse(request, new Response(video, { headers: { ETag: '"v1"' } }), video.byteLength);
 */
export function getRangeResponse(request: Request, response: Response, length: number): Response {
  if (request.method !== "GET" || response.status !== 200) return response;
  const range = parseRange(request.headers.get("range"), length);
  if (range === undefined) return response;
  const validators = { etag: response.headers.get("etag"), lastModified: response.headers.get("last-modified"), date: response.headers.get("date") };
  if (!ifRangeHolds(request.headers.get("if-range"), validators)) return response;
  if (range === "unsatisfiable") {
    response.body?.cancel().catch(() => {});
    return new Response(null, { status: 416, headers: { "content-range": `bytes */${length}` } });
  }
  const headers = new Headers(response.headers);
  headers.set("content-range", `bytes ${range.first}-${range.last}/${length}`);
  headers.set("content-length", String(range.last - range.first + 1));
  const body = response.body ? sliceStream(response.body, range.first, range.last + 1) : null;
  return new Response(body, { status: 206, headers });
}

/** The bytes of `body` from offset `start` up to `end` (excluded); the rest is never read. */
function sliceStream(body: ReadableStream<Uint8Array>, start: number, end: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const read = await reader.read();
        if (read.done) return controller.error(new RangeError(`the body ended at byte ${offset}, before the range's end at ${end}`));
        const chunk = read.value;
        const from = Math.max(0, start - offset);
        const to = Math.min(chunk.byteLength, end - offset);
        offset += chunk.byteLength;
        if (to > from) controller.enqueue(chunk.subarray(from, to));
        if (offset >= end) {
          controller.close();
          return reader.cancel().catch(() => {});
        }
        if (to > from) return;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
