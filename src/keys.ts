/** Making cache keys from user keys, and the memcached-compatibility checks Django runs on them. */

/**
 * Turns a user key into the key the backend sees.
 *
 * @example
 * const keyFunction: KeyFunction = (key, prefix, version) => `CUSTOM-${prefix}-${version}-${key}`;
 */
export type KeyFunction = (key: string, keyPrefix: string, version: number) => string;

/**
 * Django's default key function: `${keyPrefix}:${version}:${key}`.
 *
 * @example
 * defaultKeyFunction("user:1", "", 1); // ":1:user:1"
 */
export const defaultKeyFunction: KeyFunction = (key, keyPrefix, version) => `${keyPrefix}:${version}:${key}`;

/** memcached's key length limit, which Django checks for every backend. */
export const MEMCACHED_MAX_KEY_LENGTH = 250;

// Control characters, space and DEL: what memcached's text and meta protocols cannot carry.
// eslint-disable-next-line no-control-regex
const UNSAFE_KEY_CHARACTERS = /[\x00-\x20\x7f]/;

/**
 * Django's memcached key warnings for a made key: zero, one or both messages.
 *
 * @example
 * memcachedKeyWarnings(":1:has space"); // ["Cache key contains characters that will cause errors if used with memcached: ':1:has space'"]
 */
export function memcachedKeyWarnings(key: string): string[] {
  const warnings: string[] = [];
  // Counted in code points, as Python's len counts (an emoji is one): UTF-16 units only where there are more.
  if (key.length > MEMCACHED_MAX_KEY_LENGTH && key.length - (key.match(SURROGATE_PAIRS)?.length ?? 0) > MEMCACHED_MAX_KEY_LENGTH) {
    warnings.push(`Cache key will cause errors if used with memcached: ${quoteKey(key)} (longer than ${MEMCACHED_MAX_KEY_LENGTH})`);
  }
  if (UNSAFE_KEY_CHARACTERS.test(key)) {
    warnings.push(`Cache key contains characters that will cause errors if used with memcached: ${quoteKey(key)}`);
  }
  return warnings;
}

const SURROGATE_PAIRS = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/** A key quoted for messages, with control characters escaped (`'a\tb'`, `'\x7f'`). */
export function quoteKey(key: string): string {
  // eslint-disable-next-line no-control-regex
  return `'${key.replace(/[\\']/g, "\\$&").replace(/[\x00-\x1f\x7f]/g, escapeControl)}'`;
}

function escapeControl(character: string): string {
  const named: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };
  return named[character] ?? `\\x${character.charCodeAt(0).toString(16).padStart(2, "0")}`;
}
