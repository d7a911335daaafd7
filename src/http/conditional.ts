/**
 * Conditional requests (RFC 9110 §13) as Django's `get_conditional_response` and
 * `ConditionalGetMiddleware` answer them: ETag parsing, precondition evaluation, the 304 and 412
 * responses, and a streaming-safe ETag for GET responses.
 */
import { checkInteger } from "../arguments.ts";
import { concatChunks } from "../bytes.ts";
import { sha256Hex } from "../hash.ts";
import { parseCacheControl } from "./cache-control.ts";
import { parseHttpDate } from "./date.ts";

/** What a conditional request asks for: go on with the response, answer 304, or answer 412. */
export type ConditionalOutcome = "proceed" | "not-modified" | "precondition-failed";

/** The selected representation's validators, as header values (`ETag`, `Last-Modified`). */
export interface Validators {
  etag?: string | null;
  lastModified?: string | null;
}

/** Options of {@link compileConditionalGet}. */
export interface ConditionalGetOptions {
  /** Largest body hashed for an ETag, in bytes; a longer body streams through untagged. Default 1 MiB. */
  maxEtagBytes?: number;
}

/** Default of {@link ConditionalGetOptions.maxEtagBytes}: 1 MiB. */
export const DEFAULT_MAX_ETAG_BYTES = 1024 * 1024;

const ENTITY_TAG = /^(W\/)?"[^"]*"$/;
/**
 * Headers a 304 repeats (RFC 9110 §15.4.5, Django's `_not_modified`), and Age: a 304 from a cache
 * tells its age as the 200 would (RFC 9111 §4), or the client's copy would seem new again.
 */
const NOT_MODIFIED_HEADERS = new Set(["age", "cache-control", "content-location", "date", "etag", "expires",
  "last-modified", "vary", "set-cookie"]);

/**
 * The entity tags of an If-Match / If-None-Match value: `["*"]` for `*`, otherwise the valid
 * (quoted, optionally `W/`) tags; anything else is dropped. Never throws.
 *
 * @example
 * parseETags('"a", W/"b", spam') // ['"a"', 'W/"b"']
 */
export function parseETags(value: string | null | undefined): string[] {
  if (!value) return [];
  if (value.trim() === "*") return ["*"];
  // Not splitHeaderList: an entity tag is no quoted-string (RFC 9110 §8.8.3), a backslash in it
  // escapes nothing, and a comma inside its quotes does not split.
  const tags: string[] = [];
  const member = /[ \t]*((?:W\/)?"[^"]*")[ \t]*(?:,|$)|[^,]*(?:,|$)/y;
  for (let at = 0; at < value.length; ) {
    member.lastIndex = at;
    const found = member.exec(value)!;
    if (found[1] !== undefined) tags.push(found[1]);
    at = member.lastIndex;
  }
  return tags;
}

/**
 * `value` as a quoted entity tag, unless it already is one.
 *
 * @example
 * quoteETag("abc")    // '"abc"'
 * quoteETag('W/"x"') // 'W/"x"'
 */
export function quoteETag(value: string): string {
  return ENTITY_TAG.test(value) ? value : `"${value}"`;
}

/**
 * Evaluate the request's preconditions against the representation's validators, in the order
 * of RFC 9110 §13.2.2: If-Match (strong), else If-Unmodified-Since (412 also when there is no
 * Last-Modified, as in Django); If-None-Match (weak; 304 for GET/HEAD, 412 otherwise), else
 * If-Modified-Since (GET/HEAD only). Invalid header values are ignored. Never throws.
 *
 * @example
 * const outcome = evaluateConditional(request, { etag: stored.headers.get("ETag") });
 * if (outcome === "not-modified") return notModified(stored);
 */
export function evaluateConditional(request: Request, validators: Validators): ConditionalOutcome {
  const conditions = request.headers;
  const etag = validators.etag?.trim() || undefined;
  const lastModified = parseHttpDate(validators.lastModified);
  const safe = request.method === "GET" || request.method === "HEAD";

  const ifMatch = parseETags(conditions.get("if-match"));
  if (ifMatch.length > 0) {
    if (!strongMatch(etag, ifMatch)) return "precondition-failed";
  } else {
    const since = parseHttpDate(conditions.get("if-unmodified-since"));
    if (since !== undefined && !(lastModified !== undefined && lastModified <= since)) return "precondition-failed";
  }

  const ifNoneMatch = parseETags(conditions.get("if-none-match"));
  if (ifNoneMatch.length > 0) {
    if (weakMatch(etag, ifNoneMatch)) return safe ? "not-modified" : "precondition-failed";
  } else if (safe) {
    const since = parseHttpDate(conditions.get("if-modified-since"));
    if (since !== undefined && lastModified !== undefined && lastModified <= since) return "not-modified";
  }
  return "proceed";
}

// Which request headers can change evaluateConditional's answer for a safe method, by the
// response's validators: If-Match and If-Unmodified-Since always can (without an ETag or a
// Last-Modified they fail), If-None-Match only against an ETag, If-Modified-Since only against a
// Last-Modified.
const PRECONDITIONS = ["if-match", "if-unmodified-since"] as const;
const WITH_ETAG = [...PRECONDITIONS, "if-none-match"] as const;
const WITH_LAST_MODIFIED = [...PRECONDITIONS, "if-modified-since"] as const;
const WITH_BOTH = [...WITH_ETAG, "if-modified-since"] as const;

/**
 * The request headers that can change the answer to a GET or HEAD for a 2xx response with these
 * validators (present or not): a request with none of them always gets the response itself, so
 * a cache hit needs to look for only these.
 *
 * @example
 * conditionalRequestHeaders({ etag: '"v1"' }); // ["if-match", "if-unmodified-since", "if-none-match"]
 */
export function conditionalRequestHeaders(validators: Validators): readonly string[] {
  const etag = validators.etag != null;
  const lastModified = validators.lastModified != null;
  return etag ? (lastModified ? WITH_BOTH : WITH_ETAG) : lastModified ? WITH_LAST_MODIFIED : PRECONDITIONS;
}

/**
 * A 304 for `response`, keeping only the headers RFC 9110 asks a 304 to repeat: Cache-Control,
 * Content-Location, Date, ETag, Expires, Last-Modified, Vary, and every Set-Cookie. The
 * response's body is left alone (cancel it if nothing else reads it).
 *
 * @example
 * notModified(new Response("big", { headers: { ETag: '"v1"', "Content-Language": "en" } }))
 * // 304 with ETag: "v1" and no Content-Language
 */
export function notModified(response: Response): Response {
  const headers = new Headers();
  for (const [name, value] of response.headers) {
    if (NOT_MODIFIED_HEADERS.has(name)) headers.append(name, value);
  }
  return new Response(null, { status: 304, headers });
}

/**
 * Django's `get_conditional_response`: answer the request's preconditions from the response's
 * own ETag and Last-Modified. A non-2xx response, or a request whose preconditions pass, gets
 * `response` back; otherwise a 304 ({@link notModified}) or an empty 412, and the body of
 * `response` is cancelled.
 *
 * @example
 * return getConditionalResponse(request, new Response(html, { headers: { ETag: '"v1"' } }));
 */
export function getConditionalResponse(request: Request, response: Response): Response {
  if (response.status < 200 || response.status > 299) return response;
  const outcome = evaluateConditional(request, {
    etag: response.headers.get("etag"),
    lastModified: response.headers.get("last-modified"),
  });
  if (outcome === "proceed") return response;
  response.body?.cancel().catch(() => {});
  return outcome === "not-modified" ? notModified(response) : new Response(null, { status: 412 });
}

/**
 * Validate options once and return Django's `ConditionalGetMiddleware.process_response` for one
 * request: for GET only, a 200 response with a body, no ETag and no `no-store` gets a strong
 * ETag (SHA-256 of the body, if the body fits in `maxEtagBytes`); then, if the response has an
 * ETag or a valid Last-Modified, the preconditions are answered ({@link getConditionalResponse}).
 * A body over the cap, or a `text/event-stream`, streams through untagged and unbuffered.
 *
 * @example
 * const conditional = compileConditionalGet({ maxEtagBytes: 64 * 1024 });
 * const res = await conditional(request, await handler(request));
 */
export function compileConditionalGet(
  options: ConditionalGetOptions = {},
): (request: Request, response: Response) => Promise<Response> {
  const cap = options.maxEtagBytes ?? DEFAULT_MAX_ETAG_BYTES;
  checkInteger(cap, "maxEtagBytes");
  if (cap < 0) throw new TypeError(`maxEtagBytes must not be negative, got ${cap}`);
  return async (request, response) => {
    if (request.method !== "GET") return response;
    const tagged = wantsETag(response, cap) ? await withETag(response, cap) : response;
    const { headers } = tagged;
    if (!headers.has("etag") && parseHttpDate(headers.get("last-modified")) === undefined) return tagged;
    return getConditionalResponse(request, tagged);
  };
}

function strongMatch(etag: string | undefined, tags: string[]): boolean {
  if (etag === undefined) return false;
  if (tags[0] === "*") return true;
  return !etag.startsWith("W/") && tags.includes(etag);
}

function weakMatch(etag: string | undefined, tags: string[]): boolean {
  if (etag === undefined) return false;
  if (tags[0] === "*") return true;
  const opaque = (tag: string) => tag.replace(/^W\//, "");
  return tags.some((tag) => opaque(tag) === opaque(etag));
}

function wantsETag(response: Response, cap: number): boolean {
  const { headers } = response;
  const length = Number(headers.get("content-length") ?? 0);
  return response.status === 200 && response.body !== null && !headers.has("etag") &&
    !parseCacheControl(headers.get("cache-control")).has("no-store") &&
    !/^text\/event-stream\b/i.test(headers.get("content-type") ?? "") && !(length > cap);
}

/**
 * `response` with an ETag when its body ends within `cap` bytes (an empty body gets none).
 * Otherwise, or if the body fails while being read, the bytes already read are replayed ahead of
 * the rest of the stream, untagged.
 */
async function withETag(response: Response, cap: number): Promise<Response> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value);
      size += read.value.byteLength;
      if (size > cap) return rebuild(response, replay(chunks, reader));
    }
  } catch {
    return rebuild(response, replay(chunks, reader));
  }
  const body = concatChunks(chunks) as Uint8Array<ArrayBuffer>; // a stream's chunks, never shared memory
  const tagged = rebuild(response, body);
  if (size > 0) tagged.headers.set("etag", `"${await sha256Hex(body)}"`);
  return tagged;
}

function rebuild(response: Response, body: BodyInit): Response {
  const { status, statusText } = response;
  return new Response(body, { status, statusText, headers: new Headers(response.headers) });
}

function replay(chunks: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
    },
    async pull(controller) {
      const read = await reader.read();
      if (read.done) controller.close();
      else controller.enqueue(read.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
