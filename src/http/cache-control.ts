/**
 * Cache-Control: a lenient parser, a serialiser, and Django's `patch_cache_control` and
 * `get_max_age`. Directive names are compared case-insensitively (RFC 9111), unlike Django's
 * substring tests.
 */
import { describe } from "../arguments.ts";
import { TOKEN, editHeaders, quote, scanHeaderList, splitHeaderList, uniqueIgnoringCase, unquote } from "./headers.ts";

/**
 * Parsed Cache-Control: lowercased directive name → unquoted value, or `true` for a bare
 * directive. Insertion-ordered. `no-cache` and `private` field names from several entries are
 * joined as `"A, B"`; a bare one anywhere wins (rewritten, "private" must never narrow to
 * "only Set-Cookie is private"). For any other repeated directive the last wins.
 */
export type ParsedCacheControl = Map<string, string | true>;

/** A directive value accepted by {@link patchCacheControl}; `false` removes the directive. */
export type DirectiveValue = boolean | number | string | readonly string[] | undefined;

/**
 * Directives for {@link patchCacheControl} and the `cacheControl` wrapper. camelCase names are
 * converted to kebab-case (`sMaxage` → `s-maxage`); any other name is accepted the same way.
 * `true` writes the bare directive, `false` removes it, `undefined` leaves it alone.
 */
export interface CacheControlDirectives {
  public?: boolean;
  private?: boolean;
  /** `true` for a bare `no-cache`; a field name or names for `no-cache="A, B"` (they accumulate). */
  noCache?: boolean | string | readonly string[];
  noStore?: boolean;
  noTransform?: boolean;
  mustRevalidate?: boolean;
  proxyRevalidate?: boolean;
  mustUnderstand?: boolean;
  immutable?: boolean;
  /** Seconds; merged with an existing max-age as the minimum of the two. */
  maxAge?: number | false;
  sMaxage?: number | false;
  staleWhileRevalidate?: number | false;
  staleIfError?: number | false;
  [directive: string]: DirectiveValue;
}

const FLAGS = new Set(["public", "private", "no-store", "no-transform", "must-revalidate", "proxy-revalidate",
  "must-understand", "immutable"]);
const SECONDS = new Set(["max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"]);
/** Directives whose value is a list of field names, written in quoted-string form (RFC 9111 §5.2.2). */
const FIELD_LISTS = new Set(["no-cache", "private"]);
/**
 * A quoted string, its closing quote last (RFC 9110 §5.6.4), or one left open to the end of the
 * value (read up to there, and written back closed: the value is malformed all the same).
 */
const QUOTED_STRING = /^"(?:[^"\\]|\\.)*(?:"|\\)?$/;
/** A character a header value cannot hold (it may hold HTAB, SP, visible ASCII and obs-text). */
const NOT_FIELD_TEXT = /[^\t -~\x80-\xff]/;
/**
 * RFC 9111 §1.2.2: the largest delta-seconds a cache need represent (2^31 s, 68 years); a larger
 * one read counts as this, and none larger is written.
 *
 * @example
 * Math.min(seconds, MAX_DELTA_SECONDS);
 */
export const MAX_DELTA_SECONDS = 2147483648;

/**
 * Parse a Cache-Control header value. Never throws: members that are not a directive (`name` or
 * `name=value`, the name a token, the value a token or a quoted string) are skipped, quoted values
 * are unquoted, names are trimmed and lowercased. The member of a value that leaves a quote open
 * is split at every comma, as Django splits it: the open quote would otherwise take in every
 * directive after it (a `no-store` in a field joined after a broken one), and a helper that
 * writes the header back would hide them downstream.
 *
 * @example
 * parseCacheControl('Max-Age=60, PUBLIC, no-cache="Set-Cookie"')
 * // Map { "max-age" => "60", "public" => true, "no-cache" => "Set-Cookie" }
 */
export function parseCacheControl(value: string | null | undefined): ParsedCacheControl {
  return scanCacheControl(value).directives;
}

/**
 * A Cache-Control value read as {@link parseCacheControl} reads it, with what it could not read:
 * the members that are no directive (`no-store; no-cache`, `public private`, `max-age=60;private`:
 * a `private` or `no-store` may hide in them), kept as they are so that a header written back
 * still carries them, and whether a quote was left open. Either makes the value `malformed`.
 *
 * @example
 * scanCacheControl("max-age=60, no-store; no-cache")
 * // { directives: Map { "max-age" => "60" }, unread: ["no-store; no-cache"], malformed: true }
 */
export function scanCacheControl(value: string | null | undefined): { directives: ParsedCacheControl; unread: string[]; malformed: boolean } {
  const directives: ParsedCacheControl = new Map();
  const unread: string[] = [];
  const { members, unterminated } = value ? scanHeaderList(value) : { members: [], unterminated: false };
  // The last member is the one holding the open quote: it alone is split at every comma.
  if (unterminated) members.push(...members.pop()!.split(",").map((member) => member.trim()).filter((member) => member !== ""));
  for (const member of members) {
    const eq = member.indexOf("=");
    const name = (eq < 0 ? member : member.slice(0, eq)).trim().toLowerCase();
    const text = eq < 0 ? undefined : member.slice(eq + 1).trim();
    if (!TOKEN.test(name) || (text !== undefined && !TOKEN.test(text) && !QUOTED_STRING.test(text))) {
      unread.push(member);
      continue;
    }
    const directive = text === undefined ? true : unquote(text);
    directives.set(name, FIELD_LISTS.has(name) ? mergeFieldList(directives.get(name), directive) : directive);
  }
  return { directives, unread, malformed: unterminated || unread.length > 0 };
}

/**
 * Serialise parsed directives, joined with `", "`. Values that are not tokens are quoted, and
 * `no-cache` / `private` field names always are.
 *
 * @example
 * formatCacheControl(new Map([["max-age", "60"], ["no-cache", "Set-Cookie"]]))
 * // 'max-age=60, no-cache="Set-Cookie"'
 */
export function formatCacheControl(directives: ParsedCacheControl): string {
  return [...directives].map(([name, value]) => {
    if (value === true) return name;
    return `${name}=${TOKEN.test(value) && !FIELD_LISTS.has(name) ? value : quote(value)}`;
  }).join(", ");
}

/**
 * A delta-seconds directive value as a number: an optionally negative integer (Django keeps a
 * negative max-age), capped at 2^31. Anything else (`true`, `"1.5"`, `"abc"`) gives `undefined`.
 *
 * @example
 * parseDeltaSeconds(parseCacheControl("s-maxage=30").get("s-maxage")) // 30
 */
export function parseDeltaSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== "string" || !/^-?\d+$/.test(value)) return undefined;
  return Math.min(Number(value), MAX_DELTA_SECONDS);
}

/**
 * The response's `max-age` in seconds, or `undefined` when there is none or it is not an integer.
 *
 * @example
 * getMaxAge(new Response(null, { headers: { "Cache-Control": "MAX-AGE=10" } })) // 10
 */
export function getMaxAge(response: Response): number | undefined {
  return parseDeltaSeconds(parseCacheControl(response.headers.get("cache-control")).get("max-age"));
}

/**
 * Add, replace or remove Cache-Control directives, Django's `patch_cache_control`:
 * - existing directives keep their position, new ones are appended;
 * - `maxAge` becomes the minimum of the existing and the new max-age;
 * - `public: true` removes an existing `private` and vice versa; asking for both throws;
 * - `noCache` field names accumulate; a bare `no-cache` (old or new) wins;
 * - `false` removes a directive; a header left empty is removed.
 * Returns the response, or a copy when its headers are immutable.
 *
 * @example
 * patchCacheControl(new Response("hi", { headers: { "Cache-Control": "public, max-age=60" } }),
 *   { private: true, maxAge: 120 }).headers.get("Cache-Control") // "max-age=60, private"
 */
export function patchCacheControl(response: Response, directives: CacheControlDirectives): Response {
  return editHeaders(response, compileCacheControl(directives));
}

type Update = readonly [name: string, value: boolean | string];

/**
 * Validate `directives` once and return a function that patches a `Headers` object with them,
 * as {@link patchCacheControl} does. Used by the wrappers, so bad arguments fail at wrap time.
 *
 * @example
 * const neverStore = compileCacheControl({ noStore: true });
 * neverStore(response.headers);
 */
export function compileCacheControl(directives: CacheControlDirectives): (headers: Headers) => void {
  if (typeof directives !== "object" || directives === null) {
    throw new TypeError(`directives must be an object, got ${describe(directives)}`);
  }
  const updates: Update[] = [];
  for (const [key, value] of Object.entries(directives)) {
    if (value === undefined) continue;
    const name = directiveName(key);
    updates.push([name, checkValue(key, name, value)]);
  }
  const asks = (name: string) => updates.some(([n, v]) => n === name && v === true);
  if (asks("public") && asks("private")) {
    throw new TypeError("directives: public and private are mutually exclusive; ask for one of them");
  }
  const dropped = asks("public") ? "private" : asks("private") ? "public" : undefined;

  return (headers) => {
    // What it could not read is kept as it is: a `no-store` in `no-store; no-cache` must reach downstream caches as it came.
    const { directives: current, unread } = scanCacheControl(headers.get("cache-control"));
    if (dropped) current.delete(dropped);
    for (const [name, value] of updates) {
      if (value === false) current.delete(name);
      else if (name === "no-cache") current.set(name, mergeFieldList(current.get(name), value));
      else if (name === "max-age") current.set(name, minSeconds(current.get(name), value));
      else current.set(name, value);
    }
    const serialised = [formatCacheControl(current), ...unread.map(closedQuote)].filter((part) => part !== "").join(", ");
    if (serialised === "") headers.delete("cache-control");
    else headers.set("cache-control", serialised);
  };
}

/** `member` as it came, with a quote it leaves open closed: a field appended after it downstream must not be swallowed. */
function closedQuote(member: string): string {
  let quoted = false;
  let escaped = false;
  for (const char of member) {
    if (escaped) escaped = false;
    else if (quoted && char === "\\") escaped = true;
    else if (char === '"') quoted = !quoted;
  }
  return quoted ? `${member}${escaped ? "\\" : ""}"` : member;
}

function directiveName(key: string): string {
  const name = key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").replaceAll("_", "-").toLowerCase();
  if (!TOKEN.test(name)) throw new TypeError(`directives: ${describe(key)} is not a valid Cache-Control directive name`);
  return name;
}

/** Check one directive value and normalise it to `true`, `false` or the text after `=`. */
function checkValue(key: string, name: string, value: Exclude<DirectiveValue, undefined>): boolean | string {
  const fail = (expected: string): never => {
    throw new TypeError(`directives.${key} must be ${expected}, got ${describe(value)}`);
  };
  if (typeof value === "boolean") return value && SECONDS.has(name) ? fail("a number of seconds or false") : value;
  if (FLAGS.has(name)) return fail("a boolean");
  if (typeof value === "number") {
    if (name === "no-cache") fail("true or header field names");
    if (!Number.isFinite(value) || value < 0) fail("a non-negative finite number of seconds");
    return String(Math.min(Math.floor(value), MAX_DELTA_SECONDS)); // 1e21 would print as "1e+21"
  }
  if (SECONDS.has(name)) return fail("a number of seconds or false");
  const names = typeof value === "string" ? [value] : value;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === "string")) {
    return fail("a boolean, a number, a string or a non-empty array of strings");
  }
  if (name === "no-cache" && !names.every((n) => TOKEN.test(n))) fail("true or header field names");
  if (names.some((n) => NOT_FIELD_TEXT.test(n))) fail("header text (no control characters)");
  return names.join(", ");
}

/** Django's min rule: the smaller of an existing integer max-age and the new one. */
function minSeconds(existing: string | true | undefined, added: string | true): string | true {
  const old = parseDeltaSeconds(existing);
  return old !== undefined && old < Number(added) ? String(old) : added;
}

/** Union of two no-cache (or private) values: `true` (bare) wins, field names accumulate case-insensitively. */
function mergeFieldList(existing: string | true | undefined, added: string | true): string | true {
  if (existing === true || added === true) return true;
  return uniqueIgnoringCase([...splitHeaderList(existing), ...splitHeaderList(added)]).join(", ");
}

/**
 * Mark a response's headers `private` (a `public` there goes): for an answer that carries one
 * visitor's cookies, which no shared cache may keep.
 *
 * @example
 * markPrivate(response.headers); // "public, max-age=60" becomes "max-age=60, private"
 */
export const markPrivate: (headers: Headers) => void = compileCacheControl({ private: true });
