/**
 * What page caching keeps in an EdgeCache: a stored page (status, headers, body and its
 * freshness times) or a vary index. Both travel through the data-only codec; anything read back
 * that has neither shape is treated as corrupt.
 */

/** A cached response. Times are clock milliseconds. */
export interface StoredPage {
  kind: "page";
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
  storedAt: number;
  /** Fresh until this time. */
  freshUntil: number;
  /** May be served stale while one request refreshes it, until this time. */
  staleWhileRevalidateUntil: number;
  /** May be served stale when the handler fails, until this time. */
  staleIfErrorUntil: number;
  /** The response was explicitly shareable (public, s-maxage or must-revalidate), so requests with Authorization may get it. */
  shareable: boolean;
}

/** Under a URL's base key when its page varies: the request headers it varies on. */
export interface VaryIndex {
  kind: "vary";
  vary: string[];
}

/** Headers never stored: recomputed on every answer, or meaningless once stored. */
export const UNSTORED_HEADERS = new Set(["age", "connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "trailer"]);

/**
 * Whether a value read from the cache is a well-formed stored page.
 *
 * @example
 * if (isStoredPage(await cache.get(key))) { ... }
 */
export function isStoredPage(value: unknown): value is StoredPage {
  if (value === null || typeof value !== "object") return false;
  const page = value as Partial<StoredPage>;
  return page.kind === "page" && typeof page.status === "number" && page.body instanceof Uint8Array &&
    Array.isArray(page.headers) && page.headers.every((pair) => Array.isArray(pair) && typeof pair[0] === "string" && typeof pair[1] === "string") &&
    typeof page.storedAt === "number" && typeof page.freshUntil === "number" &&
    typeof page.staleWhileRevalidateUntil === "number" && typeof page.staleIfErrorUntil === "number" && typeof page.shareable === "boolean";
}

/**
 * Whether a value read from the cache is a vary index.
 *
 * @example
 * if (isVaryIndex(value)) console.log(value.vary); // ["accept-encoding", "cookie"]
 */
export function isVaryIndex(value: unknown): value is VaryIndex {
  if (value === null || typeof value !== "object") return false;
  const index = value as Partial<VaryIndex>;
  return index.kind === "vary" && Array.isArray(index.vary) && index.vary.every((name) => typeof name === "string");
}
