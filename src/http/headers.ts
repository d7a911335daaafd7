/**
 * Low-level header plumbing shared by the HTTP helpers: list splitting that respects quoted
 * strings, token checks, quoting, and editing a response's headers even when they are immutable.
 */

/**
 * Matches an RFC 9110 token (header names, directive names, field names).
 *
 * @example
 * TOKEN.test("max-age") // true
 * TOKEN.test("a b")     // false
 */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Split a comma-separated header value into trimmed, non-empty members. Commas inside
 * double-quoted strings do not split. Never throws; an unterminated quote runs to the end.
 *
 * @example
 * splitHeaderList('no-cache="a, b", max-age=5,,') // ['no-cache="a, b"', "max-age=5"]
 */
export function splitHeaderList(value: string | null | undefined): string[] {
  return value ? scanHeaderList(value).members : [];
}

/**
 * `value`'s members, split at the commas outside quoted strings, and whether a quote was left
 * open (the last member then holds it, swallowing the rest of the value, fields joined after it
 * by `Headers.get` included).
 *
 * @example
 * scanHeaderList('a, b="c') // { members: ["a", 'b="c'], unterminated: true }
 */
export function scanHeaderList(value: string): { members: string[]; unterminated: boolean } {
  const members: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (quoted && char === "\\") i++;
    else if (char === '"') quoted = !quoted;
    else if (char === "," && !quoted) {
      members.push(value.slice(start, i));
      start = i + 1;
    }
  }
  members.push(value.slice(start));
  return { members: members.map((member) => member.trim()).filter((member) => member !== ""), unterminated: quoted };
}

/**
 * `values` without case-insensitive repeats, keeping the first spelling and the order.
 *
 * @example
 * uniqueIgnoringCase(["Cookie", "Accept", "cookie"]) // ["Cookie", "Accept"]
 */
export function uniqueIgnoringCase(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return values.filter((value) => {
    const folded = value.toLowerCase();
    if (seen.has(folded)) return false;
    seen.add(folded);
    return true;
  });
}

/**
 * The content of a quoted string (`"a\"b"` → `a"b`); any other text is returned unchanged.
 *
 * @example
 * unquote('"Set-Cookie"') // "Set-Cookie"
 * unquote("60")           // "60"
 */
export function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  let out = "";
  for (let i = 1; i < value.length; i++) {
    const char = value[i];
    if (char === '"') break;
    out += char === "\\" && i + 1 < value.length ? value[++i] : char;
  }
  return out;
}

/**
 * `value` as a quoted string, escaping `"` and `\`.
 *
 * @example
 * quote("Set-Cookie, Authorization") // '"Set-Cookie, Authorization"'
 */
export function quote(value: string): string {
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * Run `edit` on the response's headers and return the response. When the headers are
 * immutable (responses from `fetch()`, `Response.redirect()`), the edit is made on a copy sharing
 * the same body, and the copy is returned: always use the return value.
 *
 * @example
 * const res = editHeaders(await fetch(url), (headers) => headers.set("x-cache", "miss"));
 */
export function editHeaders(response: Response, edit: (headers: Headers) => void): Response {
  const target = hasMutableHeaders(response) ? response : new Response(response.body, response);
  edit(target.headers);
  return target;
}

function hasMutableHeaders(response: Response): boolean {
  try {
    // Deleting an absent header is a no-op on mutable headers and a TypeError on immutable ones.
    response.headers.delete("x-edgecache-mutability-probe");
    return true;
  } catch {
    return false;
  }
}
