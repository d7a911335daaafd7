/** Reading the `servers` option: Django's LOCATION forms plus optional weights. */
import { describe } from "../../src/arguments.ts";
import type { ServerAddress } from "../net/stream.ts";

/**
 * One server as the `servers` option may name it: `"host:port"`, `"host"` (port 11211),
 * `"[::1]:11211"`, `"unix:/path/to.sock"`, or an object adding a weight (default 1; a server of
 * weight 2 gets about twice the keys).
 *
 * @example
 * const servers: ServerOption[] = ["10.0.0.1:11211", { server: "10.0.0.2:11211", weight: 2 }];
 */
export type ServerOption = string | { readonly server: string; readonly weight?: number };

/**
 * A parsed server: where it is, its name (its id on the hash ring), and its weight.
 *
 * @example
 * parseServers("unix:/run/mc.sock")[0]; // { address: { kind: "unix", path: "/run/mc.sock" }, label: "unix:/run/mc.sock", weight: 1 }
 */
export interface ServerSpec {
  readonly address: ServerAddress;
  readonly label: string;
  readonly weight: number;
}

const DEFAULT_PORT = 11211;

/**
 * The pool as one string, the same for the same servers and weights in any order (which send each
 * key to the same server): what the backend's `identity` is named after.
 *
 * @example
 * poolName(parseServers("a:11211;b:11211")) === poolName(parseServers("b:11211,a:11211")); // true
 */
export function poolName(servers: readonly ServerSpec[]): string {
  return servers.map(({ label, weight }) => `${label}*${weight}`).sort().join(" ");
}

/**
 * Parse the `servers` option: a list, or one string separated by `;` or `,` (as Django's
 * LOCATION). Throws a TypeError naming `servers` for anything it cannot use.
 *
 * @example
 * parseServers("10.0.0.1:11211;10.0.0.2:11211").map((server) => server.label); // ["10.0.0.1:11211", "10.0.0.2:11211"]
 */
export function parseServers(servers: unknown): ServerSpec[] {
  const entries: unknown[] = typeof servers === "string" ? servers.split(/[;,]/).map((part) => part.trim()).filter(Boolean) : Array.isArray(servers) ? servers : [];
  if (entries.length === 0) throw new TypeError(`options.servers must name at least one server ("host:port", "unix:/path", or a list of them), got ${describe(servers)}`);
  const parsed = entries.map(parseEntry);
  const labels = new Set<string>();
  for (const { label } of parsed) {
    if (labels.has(label)) throw new TypeError(`options.servers lists ${label} twice`);
    labels.add(label);
  }
  return parsed;
}

function parseEntry(entry: unknown): ServerSpec {
  const location = typeof entry === "object" && entry !== null ? (entry as { server?: unknown }).server : entry;
  const weight = typeof entry === "object" && entry !== null ? ((entry as { weight?: unknown }).weight ?? 1) : 1;
  if (typeof location !== "string") throw new TypeError(`options.servers entries must be "host:port" strings or { server, weight } objects, got ${describe(entry)}`);
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0) throw new TypeError(`options.servers: the weight of ${location} must be a positive number, got ${describe(weight)}`);
  return { ...parseLocation(location.trim()), weight };
}

function parseLocation(location: string): { address: ServerAddress; label: string } {
  if (location.startsWith("unix:")) {
    const path = location.slice("unix:".length);
    if (!path) throw new TypeError(`options.servers: ${describe(location)} has no socket path`);
    return { address: { kind: "unix", path }, label: location };
  }
  const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+))(?::(\d+))?$/.exec(location);
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? DEFAULT_PORT : Number(match[3]);
  if (!host || port < 1 || port > 65535) throw new TypeError(`options.servers: ${describe(location)} is not "host:port", "[ipv6]:port" or "unix:/path"`);
  return { address: { kind: "tcp", host, port }, label: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}` };
}
