/** Argument checks shared by the public API: each throws a TypeError that names the argument. */

/**
 * A cache timeout in seconds: floats allowed, `null` never expires, 0 or negative keeps nothing.
 *
 * @example
 * await cache.set("k", "v", { timeout: 0.5 });
 */
export type Timeout = number | null;

/** Throw unless `value` is a string of well-formed text. */
export function checkKey(value: unknown, name = "key"): asserts value is string {
  if (typeof value !== "string") throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  if (LONE_SURROGATE.test(value)) {
    throw new TypeError(`${name} must be well-formed text, got ${describe(value)} with half a character (a lone UTF-16 surrogate): stores that keep keys as UTF-8 would take it for another key`);
  }
}

/** Half of a UTF-16 surrogate pair, alone (a string cut inside a character): in unicode mode, whole pairs are one code point and do not match. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Throw unless `value` is a finite number or null. */
export function checkTimeout(value: unknown, name = "timeout"): asserts value is Timeout {
  if (value === null) return;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a finite number of seconds or null, got ${describe(value)}`);
  }
}

/** Throw unless `value` is a safe integer. */
export function checkInteger(value: unknown, name: string): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
}

/**
 * `value` if it is a finite number of 0 or more; else a TypeError naming `name`.
 *
 * @example
 * const ms = nonNegative(options.timeoutMs ?? 1000, "options.timeoutMs");
 */
export function nonNegative(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a number of 0 or more, got ${describe(value)}`);
  }
  return value;
}

/**
 * The longest delay a timer takes (about 24.8 days): a longer one fires at once, over and over.
 *
 * @example
 * if (timeoutMs > MAX_TIMER_MS) throw new TypeError("options.timeoutMs is past a timer's reach");
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * `value` if it is a number of milliseconds a timer can wait (0 to {@link MAX_TIMER_MS}); else a
 * TypeError naming `name`.
 *
 * @example
 * timerMs(options.heartbeatMs ?? 30_000, "options.heartbeatMs"); // 30000
 */
export function timerMs(value: unknown, name: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= MAX_TIMER_MS)) {
    throw new TypeError(`${name} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${describe(value)}`);
  }
  return value;
}

/**
 * `value` if it is a fraction strictly between 0 and 1; else a TypeError naming `name` and what
 * it is a fraction `of`.
 *
 * @example
 * const due = fraction(options.refreshAhead, "options.refreshAhead", "the page's lifetime");
 */
export function fraction(value: unknown, name: string, of: string): number {
  if (typeof value !== "number" || !(value > 0 && value < 1)) throw new TypeError(`${name} must be a fraction of ${of} between 0 and 1 (such as 0.8), got ${describe(value)}`);
  return value;
}

/** Throw unless `value` is a function. */
export function checkFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") throw new TypeError(`${name} must be a function, got ${describe(value)}`);
}

/**
 * Throw unless `options`, one call's options, is absent or an object of `names` only (see
 * `checkOptionNames`): an argument in Django's place for a positional `positional`
 * (`set("k", "v", 5)`'s timeout, `get("k", "d")`'s default, `delete("k", 2)`'s version), or a
 * misspelt option, would otherwise be ignored without a word. The error says where it goes.
 *
 * @example
 * checkCallOptions(5, new Set(["timeout", "version"]), "set", "timeout");
 * // TypeError: options must be a plain object, got 5 (Django's positional timeout goes in the options: { timeout: 5 })
 */
export function checkCallOptions(options: unknown, names: ReadonlySet<string>, of: string, positional?: "timeout" | "default" | "version"): asserts options is object | undefined {
  if (options === undefined) return;
  if (!isPlainObject(options)) {
    const shown = options !== null && typeof options === "object" ? "…" : describe(options);
    const hint = positional === undefined ? "" : ` (Django's positional ${positional} goes in the options: { ${positional}: ${shown} })`;
    throw new TypeError(`options must be a plain object, got ${describe(options)}${hint}`);
  }
  checkOptionNames(options, names, of);
}

/** Whether `value` is a plain object (`{...}`, or made with a null prototype): not an array, a Map, or a class's instance. */
function isPlainObject(value: unknown): value is object {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short description of a rejected value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "undefined") return "undefined";
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  return Array.isArray(value) ? "an array" : `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

/**
 * Throw unless every own key of `options` is one of `known`: a misspelt option would otherwise be
 * ignored without a word. The TypeError names the option, and the known one it is nearest to.
 *
 * @example
 * checkOptionNames({ staleWhileRevalidat: 5 }, new Set(["staleWhileRevalidate"]), "page caching");
 * // TypeError: options.staleWhileRevalidat is not an option of page caching (did you mean staleWhileRevalidate?)
 */
export function checkOptionNames(options: object, known: ReadonlySet<string>, of: string): void {
  for (const name of Object.keys(options)) {
    if (known.has(name)) continue;
    const near = nearestName(name, known);
    throw new TypeError(`options.${name} is not an option of ${of}${near === undefined ? "" : ` (did you mean ${near}?)`}`);
  }
}

/** The name in `known` fewest edits away from `name`, if one is near enough to be a slip (a third of its letters, at least two). */
function nearestName(name: string, known: ReadonlySet<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
