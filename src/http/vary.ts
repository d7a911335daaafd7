/**
 * Vary: Django's `patch_vary_headers` and `has_vary_header`, plus the parser the page cache
 * uses to learn which request headers a response varies on.
 */
import { describe } from "../arguments.ts";
import { TOKEN, editHeaders, uniqueIgnoringCase } from "./headers.ts";

/**
 * The header names listed in a Vary value, trimmed, in order, spelling kept; empty members are
 * skipped, `*` appears as its own member, and so does anything that is not a header name: what
 * the response varies on is then unknown, which only `*` says (a page keyed without it could
 * reach a request it was not meant for). Never throws.
 *
 * @example
 * parseVary("Accept-Encoding,  Cookie,") // ["Accept-Encoding", "Cookie"]
 * parseVary('Cookie, "Authorization"')   // ["Cookie", "*"]
 */
export function parseVary(value: string | null | undefined): string[] {
  if (!value) return [];
  const names: string[] = [];
  for (const raw of value.split(",")) {
    const member = raw.trim();
    if (member !== "") names.push(TOKEN.test(member) ? member : "*");
  }
  return names;
}

/**
 * Add header names to the response's Vary header. Names already present (in any case) are not
 * repeated, the existing order and spelling are kept, and a `*` anywhere makes the header `*`.
 * Returns the response, or a copy when its headers are immutable.
 *
 * @example
 * patchVaryHeaders(new Response("hi", { headers: { Vary: "Accept-Encoding" } }), ["Cookie", "accept-encoding"])
 *   .headers.get("Vary") // "Accept-Encoding, Cookie"
 */
export function patchVaryHeaders(response: Response, headers: readonly string[]): Response {
  return editHeaders(response, compileVary(headers));
}

/**
 * Validate header names once and return a function that adds them to a `Headers` object's Vary,
 * as {@link patchVaryHeaders} does. Used by the wrappers, so bad names fail at wrap time.
 *
 * @example
 * const varyOnLanguage = compileVary(["Accept-Language"]);
 * varyOnLanguage(response.headers);
 */
export function compileVary(headers: readonly string[]): (target: Headers) => void {
  if (!Array.isArray(headers)) throw new TypeError(`headers must be an array of header names, got ${describe(headers)}`);
  for (const name of headers) {
    if (typeof name !== "string" || (name !== "*" && !TOKEN.test(name))) {
      throw new TypeError(`headers: ${describe(name)} is not a header name`);
    }
  }
  const added = [...headers];
  return (target) => {
    const names = uniqueIgnoringCase([...parseVary(target.get("vary")), ...added]);
    if (names.length > 0) target.set("vary", names.includes("*") ? "*" : names.join(", "));
    else target.delete("vary"); // nothing listed: no header rather than an empty one
  };
}

/**
 * Whether the response's Vary header lists `name` (case-insensitive, exact member; `Vary: *`
 * does not count as listing a name, as in Django).
 *
 * @example
 * hasVaryHeader(new Response(null, { headers: { Vary: "Accept, Cookie" } }), "cookie") // true
 */
export function hasVaryHeader(response: Response, name: string): boolean {
  if (typeof name !== "string") throw new TypeError(`name must be a header name, got ${describe(name)}`);
  const wanted = name.toLowerCase();
  return parseVary(response.headers.get("vary")).some((member) => member.toLowerCase() === wanted);
}
