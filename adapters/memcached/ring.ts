/**
 * Consistent hashing in the style of libketama: each server owns many points on a 32-bit ring
 * (160 per unit of weight) and a key belongs to the first point at or after its hash. Adding a
 * server to n others moves about 1/(n+1) of the keys, all of them to the new server. Hashes are
 * MurmurHash3 over the string's UTF-16 code units, so the layout is this library's own (not
 * libketama-compatible) but identical on every runtime.
 */

const POINTS_PER_WEIGHT = 160;

/**
 * A ring over servers named by a stable id (their `host:port`), so the layout does not depend on
 * the order they are listed in.
 *
 * @example
 * const ring = new HashRing([{ id: "10.0.0.1:11211", weight: 1 }, { id: "10.0.0.2:11211", weight: 2 }]);
 * ring.lookup("user:42"); // 0 or 1: the index of the server in the list given
 */
export class HashRing {
  private readonly hashes: Uint32Array;
  private readonly owners: Uint32Array;

  constructor(servers: ReadonlyArray<{ readonly id: string; readonly weight: number }>) {
    const points: Array<[hash: number, owner: number]> = [];
    servers.forEach(({ id, weight }, owner) => {
      const count = Math.max(1, Math.round(POINTS_PER_WEIGHT * weight));
      for (let point = 0; point < count; point++) points.push([murmur3(`${id}-${point}`), owner]);
    });
    points.sort((a, b) => a[0] - b[0] || servers[a[1]]!.id.localeCompare(servers[b[1]]!.id));
    this.hashes = Uint32Array.from(points, ([hash]) => hash);
    this.owners = Uint32Array.from(points, ([, owner]) => owner);
  }

  /** The index of the server that owns `key`. */
  lookup(key: string): number {
    const hash = murmur3(key);
    const { hashes } = this;
    let low = 0;
    let high = hashes.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (hashes[middle]! < hash) low = middle + 1;
      else high = middle;
    }
    return this.owners[low === hashes.length ? 0 : low]!;
  }
}

/**
 * MurmurHash3 (x86, 32-bit) over a string's UTF-16 code units, two to a block.
 *
 * @example
 * murmur3("user:42"); // an unsigned 32-bit integer, the same on every runtime
 */
export function murmur3(text: string, seed = 0): number {
  let hash = seed;
  const length = text.length;
  let index = 0;
  for (; index + 1 < length; index += 2) {
    hash ^= scramble(text.charCodeAt(index) | (text.charCodeAt(index + 1) << 16));
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  if (index < length) hash ^= scramble(text.charCodeAt(index));
  hash ^= length * 2;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

function scramble(block: number): number {
  block = Math.imul(block, 0xcc9e2d51);
  block = (block << 15) | (block >>> 17);
  return Math.imul(block, 0x1b873593);
}
