/**
 * `edgecache/adapters/redis-bus`: an invalidation bus for the tiered backend over a Redis pub/sub
 * channel, for near tiers in different processes and machines (a Node fleet in front of a
 * memcached cluster, say), which `broadcastBus` cannot reach. bentocache's bus, without a Redis
 * client: two connections speak the little of RESP2 that pub/sub needs (`redis-bus/resp.ts`)
 * over the socket seam (`net/stream.ts`), so it needs only `node:net` (tested on Node 20, 22 and
 * 24, Deno and Bun), or another `connect`.
 *
 * - One connection subscribes, and reconnects after a failure (100 ms, doubling to 5 s); one
 *   publishes, opened when first needed and again on the first message after the same backoff.
 *   Messages published while it connects wait for it (up to 1000; past that they are dropped,
 *   and `onError` hears it once); messages published while it backs off are dropped; none is
 *   retried.
 * - A message lost while the subscriber is away is made up for when it subscribes again: every
 *   near copy on the bus is dropped then (not when Redis was unreachable at the start: near
 *   copies made before the first subscription last until `nearTimeout`). One the publisher drops (while it backs off) is not:
 *   the near copies it would have dropped last until `nearTimeout`, as without a bus. Failures
 *   go to `onError`.
 * - Both connections PING Redis every `heartbeatMs` when nothing else came: a connection a NAT
 *   or load balancer dropped without a word (no FIN, no RST) would otherwise look open for ever,
 *   and hear nothing (the subscriber) or publish into nothing (the publisher). One with no answer
 *   by the next beat is given up and opened again.
 * - Messages carry the keys and the bus's random id (its own are skipped: its members already
 *   heard them). What is heard on the channel is parsed as JSON data and checked, never run.
 * - The subscription keeps a Node process running while any tiered backend is on the bus:
 *   `close()` the caches to let it exit. Closing sends what waits and hears Redis take it
 *   (within `timeoutMs`) before it lets go: a script that changes a key and closes still tells
 *   the others.
 * - Not for Workers: a socket there belongs to the request that opened it, and a subscription
 *   must outlive requests.
 */
import { checkFunction, describe, timerMs } from "../src/arguments.ts";
import { withDeadline } from "../src/deadline.ts";
import { harmless } from "../src/hooks.ts";
import type { ConnectionOptions } from "node:tls";
import { connectNode, connectNodeTls } from "./net/node-stream.ts";
import type { ByteStream, Connector, ServerAddress } from "./net/stream.ts";
import { encodeCommand, type Reply, ReplyReader, RespError } from "./redis-bus/resp.ts";
import { busOver, type Invalidation, type InvalidationBus, readInvalidation } from "./tiered/bus.ts";

/**
 * Options for `redisBus()`.
 *
 * @example
 * const options: RedisBusOptions = { url: "redis://:secret@10.0.0.5:6379", channel: "shop:invalidations" };
 */
export interface RedisBusOptions {
  /** `redis://[user:password@]host[:port]`, or `rediss://` for TLS. */
  url: string;
  /** The pub/sub channel. Default `"edgecache:invalidations"`. */
  channel?: string;
  /** How long a connection may take to open, in ms; 0 sets no limit. Default 2000. */
  timeoutMs?: number;
  /** Opens the connections. Default: `node:net`, or `node:tls` for `rediss://`. */
  connect?: Connector;
  /**
   * With a `rediss://` URL: `tls.connect` options, such as `ca` for a Redis whose certificate a
   * private authority signed, or a client `cert` and `key`. Not together with `connect`.
   * Default: the system's authorities.
   */
  tls?: ConnectionOptions;
  /**
   * How often each connection checks that it still carries anything, in ms: a PING
   * when it heard nothing for that long, and a new connection when that PING goes unanswered
   * for as long again. 0: never. Default 30000.
   */
  heartbeatMs?: number;
  /** Hears connection failures and error replies (the bus goes on trying, whatever the hook throws). Default `console.warn`. */
  onError?: (error: Error) => void;
}

const MAX_QUEUED = 1000;
const RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
const PING = encodeCommand(["PING"]);

/**
 * An invalidation bus over the Redis pub/sub channel `options.channel`.
 *
 * @example
 * import { redisBus } from "edgecache/adapters/redis-bus";
 * import { tiered } from "edgecache/adapters/tiered";
 *
 * const bus = redisBus({ url: process.env.REDIS_URL! });
 * const cache = createCache({ backend: tiered({ near: memory(), far: memcached({ servers }), nearTimeout: 60, bus }) });
 */
export function redisBus(options: RedisBusOptions): InvalidationBus {
  if (options === null || typeof options !== "object") throw new TypeError(`options must be an object, got ${describe(options)}`);
  const { address, auth, tls, label } = parseUrl(options.url);
  const channel = options.channel ?? "edgecache:invalidations";
  if (typeof channel !== "string" || channel === "") throw new TypeError(`options.channel must be a non-empty string, got ${describe(channel)}`);
  const timeoutMs = timerMs(options.timeoutMs ?? 2000, "options.timeoutMs");
  const heartbeatMs = timerMs(options.heartbeatMs ?? 30_000, "options.heartbeatMs");
  if (options.connect !== undefined) checkFunction(options.connect, "options.connect");
  if (options.tls !== undefined) {
    if (options.tls === null || typeof options.tls !== "object") throw new TypeError(`options.tls must be tls.connect options, got ${describe(options.tls)}`);
    if (!tls) throw new TypeError("options.tls needs a rediss:// URL");
    if (options.connect !== undefined) throw new TypeError("options.tls and options.connect cannot be combined: a connector of your own does its own TLS");
  }
  if (options.onError !== undefined) checkFunction(options.onError, "options.onError");
  const settings: LinkSettings = {
    address,
    label: `redis ${label}`,
    connect: options.connect ?? (tls ? connectNodeTls(options.tls) : connectNode),
    timeoutMs,
    heartbeatMs,
    onError: harmless(options.onError ?? ((error) => console.warn(error.message))), // a throwing one must not stop the reconnecting
  };
  const greeting = auth ? [encodeCommand(["AUTH", ...auth])] : [];
  const id = crypto.randomUUID();
  let subscriber: Link | undefined;
  let publisher: Link | undefined;
  return busOver({
    open(hear) {
      let subscribedBefore = false;
      subscriber = new Link(settings, [...greeting, encodeCommand(["SUBSCRIBE", channel])], true, (reply) => {
        if (Array.isArray(reply) && reply[0] === "subscribe" && reply[1] === channel) {
          // Subscribed again after a lost connection: what was said meanwhile is lost with it, so
          // every near copy goes (read again from the far store). Not on the first subscription:
          // the near tier may share its store with other caches (memory's `location`).
          if (subscribedBefore) hear({ all: true });
          subscribedBefore = true;
          return;
        }
        if (!Array.isArray(reply) || reply[0] !== "message" || reply[1] !== channel || typeof reply[2] !== "string") return;
        const message = parseMessage(reply[2]);
        if (message && message.from !== id) hear(message.invalidation);
      });
      publisher = new Link(settings, greeting, false, () => {});
    },
    send(message) {
      publisher?.write(encodeCommand(["PUBLISH", channel, JSON.stringify({ from: id, ...message })]));
    },
    async close() {
      const links = [subscriber, publisher];
      subscriber = publisher = undefined;
      await Promise.all(links.map((link) => link?.close()));
    },
  });
}

/** What a message heard on the channel says, if it is one of ours: its sender and its invalidation. */
function parseMessage(payload: string): { from: unknown; invalidation: Invalidation } | undefined {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return undefined; // someone else's message on the channel
  }
  const invalidation = readInvalidation(data);
  return invalidation && { from: (data as { from?: unknown }).from, invalidation };
}

/** What both connections share: where, how, how long to wait, and where failures go. */
interface LinkSettings {
  address: ServerAddress;
  label: string;
  connect: Connector;
  timeoutMs: number;
  heartbeatMs: number;
  onError: (error: Error) => void;
}

/**
 * One connection to Redis: `greeting` (AUTH, SUBSCRIBE) sent first on every connection, then
 * what is written. Either checks that the connection still carries anything (see `heartbeatMs`):
 * a publisher on a connection dropped without a word would publish into nothing. `persistent`:
 * reconnect after a failure, with backoff (the subscriber); otherwise open again on the next
 * write (the publisher). Replies go to `onReply`; error replies to `onError`.
 */
class Link {
  private stream: ByteStream | undefined;
  private connecting: AbortController | undefined;
  private readonly queue: Uint8Array[] = [];
  private failures = 0;
  /** The subscriber's reconnection, waiting out its backoff. */
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Until when the publisher drops messages rather than connect again (its backoff). */
  private retryAt = 0;
  /** The heartbeat, and whether the link has heard anything on the stream since the last beat. */
  private beat: ReturnType<typeof setInterval> | undefined;
  private heard = false;
  private pinged = false;
  private closed = false;
  /** Commands written on the current stream whose replies have not come yet. */
  private unanswered = 0;
  /** Who waits for nothing to be unsent or unanswered (see `close`). */
  private readonly drained: Array<() => void> = [];
  /** Whether messages were dropped, the queue being full, since the connection was last opened. */
  private overflowed = false;
  private readonly settings: LinkSettings;
  private readonly greeting: readonly Uint8Array[];
  private readonly persistent: boolean;
  private readonly onReply: (reply: Reply) => void;

  constructor(settings: LinkSettings, greeting: readonly Uint8Array[], persistent: boolean, onReply: (reply: Reply) => void) {
    this.settings = settings;
    this.greeting = greeting;
    this.persistent = persistent;
    this.onReply = onReply;
    if (persistent) this.open();
  }

  write(command: Uint8Array): void {
    if (this.closed) return;
    if (this.stream) return this.send(this.stream, command);
    if (!this.connecting && Date.now() < this.retryAt) return; // the publisher backing off: dropped
    if (this.queue.length < MAX_QUEUED) this.queue.push(command);
    else if (!this.overflowed) {
      this.overflowed = true; // reported once per wait for the connection
      this.settings.onError(new Error(`${this.settings.label}: more than ${MAX_QUEUED} messages wait for the connection: the rest are dropped`));
    }
    if (!this.connecting) this.open();
  }

  /**
   * Close the link. The publisher first sends what waits and hears Redis answer all it sent
   * (within `timeoutMs`, a second where that is 0): a process that changes a key and then closes
   * its cache must still have told the others.
   */
  async close(): Promise<void> {
    if (!this.persistent && !this.closed && (this.queue.length > 0 || this.unanswered > 0)) {
      await withDeadline(new Promise<void>((resolve) => this.drained.push(resolve)), this.settings.timeoutMs || 1000, () => undefined);
    }
    this.closed = true;
    this.settleDrained();
    clearTimeout(this.retry);
    clearInterval(this.beat);
    this.connecting?.abort(new Error("closed"));
    this.stream?.close();
    this.stream = undefined;
    this.queue.length = 0;
  }

  private open(): void {
    const controller = new AbortController();
    this.connecting = controller;
    const reader = new ReplyReader();
    let stream: ByteStream | undefined;
    const listener = {
      onData: (bytes: Uint8Array) => {
        if (this.stream !== stream) return;
        this.heard = true;
        try {
          for (const reply of reader.push(bytes)) {
            if (this.unanswered > 0 && --this.unanswered === 0 && this.queue.length === 0) this.settleDrained();
            if (reply instanceof RespError) this.settings.onError(new Error(`${this.settings.label}: ${reply.message}`));
            else this.onReply(reply);
          }
        } catch (error) {
          this.lost(`${(error as Error).message}`);
        }
      },
      onClose: (error?: Error) => {
        if (this.stream === stream) this.lost(error ? `connection lost (${error.message})` : "connection closed by the server");
      },
    };
    const limit = this.settings.timeoutMs;
    const timeout = limit > 0 ? setTimeout(() => controller.abort(new Error(`no connection within ${limit} ms`)), limit) : undefined;
    this.settings.connect(this.settings.address, listener, controller.signal).then(
      (opened) => {
        clearTimeout(timeout);
        if (this.connecting !== controller || this.closed) return opened.close();
        this.connecting = undefined;
        this.stream = stream = opened;
        this.failures = 0;
        for (const command of this.greeting) this.send(opened, command);
        for (const command of this.queue.splice(0)) this.send(opened, command);
        this.overflowed = false;
        if (this.settings.heartbeatMs > 0) this.startHeartbeat(opened);
      },
      (error: Error) => {
        clearTimeout(timeout);
        if (this.connecting === controller) this.lost(`cannot connect (${error.message})`);
      },
    );
  }

  /**
   * Every `heartbeatMs` on `stream`: nothing needed if something came since the last beat; else a
   * PING, and if that went unanswered by this beat, the connection is lost.
   */
  private startHeartbeat(stream: ByteStream): void {
    this.heard = this.pinged = false;
    this.beat = setInterval(() => {
      if (this.stream !== stream) return;
      if (this.heard) {
        this.heard = this.pinged = false;
      } else if (this.pinged) {
        this.lost(`no answer to PING within ${this.settings.heartbeatMs} ms`);
      } else {
        this.pinged = true;
        this.send(stream, PING);
      }
    }, this.settings.heartbeatMs);
  }

  /** Write `command` on `stream`, counting it until its reply comes (see `close`). */
  private send(stream: ByteStream, command: Uint8Array): void {
    this.unanswered++;
    stream.write(command);
  }

  /** Let whatever waits for the link to have nothing unsent or unanswered go on. */
  private settleDrained(): void {
    for (const resolve of this.drained.splice(0)) resolve();
  }

  /** The connection failed or ended: report it, drop what waits (publisher) and try again later (subscriber). */
  private lost(reason: string): void {
    this.unanswered = 0;
    clearInterval(this.beat);
    this.beat = undefined;
    const stream = this.stream;
    this.stream = undefined;
    this.connecting = undefined;
    stream?.close();
    if (this.closed) return;
    this.settings.onError(new Error(`${this.settings.label}: ${reason}`));
    this.failures++;
    const delay = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (this.failures - 1));
    if (!this.persistent) {
      this.queue.length = 0;
      this.settleDrained(); // dropped: nothing left to wait for
      this.overflowed = false;
      this.retryAt = Date.now() + delay;
      return;
    }
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.closed) this.open();
    }, delay);
  }
}

/** The address, AUTH arguments and TLS of a `redis://` or `rediss://` URL, and the URL without its credentials for messages. */
function parseUrl(url: unknown): { address: ServerAddress; auth: string[] | undefined; tls: boolean; label: string } {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url as string);
  } catch {
    // reported below
  }
  if (typeof url !== "string" || !parsed || (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") || parsed.hostname === "") {
    throw new TypeError(`options.url must be a redis:// or rediss:// URL such as "redis://10.0.0.5:6379", got ${describe(typeof url === "string" ? withoutCredentials(url) : url)}`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const password = decodeURIComponent(parsed.password);
  const user = decodeURIComponent(parsed.username);
  return {
    address: { kind: "tcp", host, port: parsed.port === "" ? 6379 : Number(parsed.port) },
    auth: password === "" ? undefined : user === "" ? [password] : [user, password],
    tls: parsed.protocol === "rediss:",
    label: `${parsed.protocol}//${parsed.host}`,
  };
}

/** `url` with whatever comes between `//` and its last `@` (a user and password, which may hold `/`, `?` or `#`) masked. */
function withoutCredentials(url: string): string {
  const start = url.indexOf("//") + 2;
  const at = url.lastIndexOf("@");
  return start < 2 || at < start ? url : `${url.slice(0, start)}***${url.slice(at)}`;
}
