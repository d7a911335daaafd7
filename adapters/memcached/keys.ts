/** The keys memcached can take: at most 250 bytes of UTF-8, no spaces or control characters. */
import { InvalidCacheKeyError } from "../../src/errors.ts";
import { MEMCACHED_MAX_KEY_LENGTH, memcachedKeyWarnings, quoteKey } from "../../src/keys.ts";

const encoder = new TextEncoder();

/**
 * Throw `InvalidCacheKeyError` (with Django's message) for a key memcached would refuse. The
 * limit is in bytes: a 100-character key of 3-byte characters is refused.
 *
 * @example
 * validateMemcachedKey(":1:user 42"); // throws: Cache key contains characters that will cause errors ...
 */
export function validateMemcachedKey(key: string): void {
  // An empty key would leave a gap in the command line that memcached reads the next field into.
  if (key === "") throw new InvalidCacheKeyError("Cache key will cause errors if used with memcached: the key is empty");
  const [warning] = memcachedKeyWarnings(key);
  if (warning) throw new InvalidCacheKeyError(warning);
  if (key.length * 3 > MEMCACHED_MAX_KEY_LENGTH && encoder.encode(key).length > MEMCACHED_MAX_KEY_LENGTH) {
    throw new InvalidCacheKeyError(`Cache key will cause errors if used with memcached: ${quoteKey(key)} (longer than ${MEMCACHED_MAX_KEY_LENGTH} bytes in UTF-8)`);
  }
}
