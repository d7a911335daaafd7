/**
 * Invalidation buses for the tiered backend: how one tiered backend tells the others sharing its
 * far store which keys it changed, so they drop their near copies at once instead of answering
 * with them for up to `nearTimeout` (bentocache's bus). Only keys travel, never values.
 *
 * `broadcastBus(name)` is the Web-standard one: a `BroadcastChannel`, which reaches the worker
 * threads of a Node, Deno or Bun process and, on Deno Deploy, the other isolates of the app.
 * Workers have no BroadcastChannel between isolates; anything with `join` can stand in (a Redis
 * pub/sub channel, for instance).
 */
import { describe } from "../../src/arguments.ts";
import { BackendUnavailableError } from "../../src/errors.ts";

/**
 * What travels on a bus: the backend keys that changed, or `all` after a `clear()`.
 *
 * @example
 * const message: Invalidation = { keys: [":1:user:7"] };
 */
export type Invalidation = { readonly keys: readonly string[] } | { readonly all: true };

/**
 * A bus: tiered backends join it to publish their changes and hear everyone else's.
 *
 * @example
 * const member = bus.join((message) => dropNearCopies(message));
 * member.publish({ keys: ["k"] });
 */
export interface InvalidationBus {
  join(listener: (message: Invalidation) => void): BusMember;
}

/**
 * One tiered backend's place on a bus. Its own messages never come back to it.
 *
 * @example
 * member.publish({ all: true });
 * await member.leave();
 */
export interface BusMember {
  publish(message: Invalidation): void;
  /**
   * Stop hearing the bus; the bus lets go of its channel once its last member has left, having
   * sent what it was given (settles once it has, where the transport can tell).
   */
  leave(): void | Promise<void>;
}

/**
 * How a bus reaches the others: opened when its first member joins (with what to do with each
 * message heard), closed when its last member leaves.
 *
 * @example
 * const transport: Transport = { open: (hear) => channel.onmessage = (e) => hear(e.data), send: (m) => channel.postMessage(m), close: () => channel.close() };
 */
export interface Transport {
  open(hear: (message: Invalidation) => void): void;
  send(message: Invalidation): void;
  /** Let go of the channel, once what was sent has gone out where that takes time. */
  close(): void | Promise<void>;
}

/**
 * A bus over `transport`: its members hear what the transport brings and what the other members
 * of this bus object publish (delivered at once, without the transport's round trip).
 *
 * @example
 * export const myBus = (): InvalidationBus => busOver(myTransport());
 */
export function busOver(transport: Transport): InvalidationBus {
  const members = new Set<(message: Invalidation) => void>();
  const deliver = (message: Invalidation, except?: (message: Invalidation) => void): void => {
    for (const listener of members) if (listener !== except) listener(message);
  };
  return {
    join(listener) {
      if (members.size === 0) transport.open((message) => deliver(message));
      members.add(listener);
      return {
        publish(message) {
          if (!members.has(listener)) return; // left
          transport.send(message);
          deliver(message, listener);
        },
        leave() {
          if (members.delete(listener) && members.size === 0) return transport.close();
        },
      };
    },
  };
}

/**
 * A bus over the `BroadcastChannel` named `name`: every tiered backend on a bus of that name, in
 * this thread, in other threads of the process, or (Deno Deploy) in other isolates, hears the
 * others. The channel never keeps a process alive.
 *
 * @example
 * import { broadcastBus, tiered } from "edgecache/adapters/tiered";
 *
 * const bus = broadcastBus("edgecache:shop");
 * const backend = tiered({ near: memory(), far: memcached({ servers }), nearTimeout: 30, bus });
 */
export function broadcastBus(name = "edgecache"): InvalidationBus {
  if (typeof name !== "string" || name === "") throw new TypeError(`name must be a non-empty string, got ${describe(name)}`);
  const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
  if (typeof Channel !== "function") {
    throw new BackendUnavailableError("BroadcastChannel is not available in this runtime (Workers isolates cannot reach each other): pass tiered() another bus, or none");
  }
  let channel: BroadcastChannel | undefined;
  return busOver({
    open(hear) {
      channel = new Channel(name);
      channel.onmessage = (event: MessageEvent) => {
        const message = readInvalidation(event.data);
        if (message) hear(message);
      };
      (channel as { unref?: () => void }).unref?.(); // Node, Deno: a listening channel would keep the process running
    },
    send: (message) => channel?.postMessage(message),
    close() {
      channel?.close();
      channel = undefined;
    },
  });
}

/**
 * The invalidation a message heard from a transport holds, rebuilt from its data alone (others
 * may share a channel, and nothing else it carries is kept); `undefined` when it holds none.
 *
 * @example
 * const message = readInvalidation(JSON.parse(payload));
 * if (message) hear(message);
 */
export function readInvalidation(data: unknown): Invalidation | undefined {
  if (data === null || typeof data !== "object") return undefined;
  const { keys, all } = data as { keys?: unknown; all?: unknown };
  if (all === true) return { all: true };
  return Array.isArray(keys) && keys.every((key) => typeof key === "string") ? { keys: [...(keys as string[])] } : undefined;
}
