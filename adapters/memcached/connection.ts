/**
 * One pipelined connection to one memcached server: requests are written as they come and
 * matched to responses in order. It connects on demand, fails every request that outlives the
 * timeout, and after a failure refuses requests at once until a backoff delay has passed (kept in
 * the server's `ServerHealth`, which every connection to the server in this isolate shares).
 */
import { BackendTimeoutError, BackendUnavailableError } from "../../src/errors.ts";
import { MORE, type Command } from "./commands.ts";
import type { ServerHealth } from "./health.ts";
import { ResponseParser, type Response } from "./parser.ts";
import type { ByteStream, Connector, ServerAddress } from "../net/stream.ts";

/**
 * How a connection reaches its server and how it behaves when the server fails.
 *
 * @example
 * const options: ConnectionOptions = { address, label: "127.0.0.1:11211", health: healthOf("127.0.0.1:11211"), connect: connectNode, timeoutMs: 1000, retryDelayMs: 100, maxRetryDelayMs: 10_000 };
 */
export interface ConnectionOptions {
  readonly address: ServerAddress;
  /** The server's name in error messages (`"127.0.0.1:11211"`). */
  readonly label: string;
  /** The server's failures, shared with the other connections to it. */
  readonly health: ServerHealth;
  readonly connect: Connector;
  /** The longest a request may wait for its answer, connecting included. */
  readonly timeoutMs: number;
  /** The pause after a first failure; it doubles with each failure in a row. */
  readonly retryDelayMs: number;
  /** The longest pause between attempts. */
  readonly maxRetryDelayMs: number;
}

interface Pending {
  readonly command: Command<unknown>;
  readonly deadline: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** memcached's answers to a command line it could not read, or whose data did not fit it. */
const MISREAD = /^(bad command line format|bad data chunk|line too long)/;

/**
 * A pipelined connection to one server.
 *
 * @example
 * const connection = new Connection({ address, label: "127.0.0.1:11211", health: healthOf("127.0.0.1:11211"), connect: connectNode, timeoutMs: 1000, retryDelayMs: 100, maxRetryDelayMs: 10_000 });
 * const value = await connection.send(get("k"));
 */
export class Connection {
  /** In order: requests written (or waiting for the connection), oldest first. */
  private readonly queue: Pending[] = [];
  private stream: ByteStream | undefined;
  private connecting: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Whether the server has answered on this connection: only that ends its failures in a row. */
  private answered = false;
  /** How many streams this connection has opened: what was learnt of the server on one may not hold on the next (it may have restarted, otherwise set). */
  opens = 0;

  private readonly options: ConnectionOptions;

  constructor(options: ConnectionOptions) {
    this.options = options;
  }

  /** Write `command` (connecting first if needed) and resolve with what its reader returns. */
  send<T>(command: Command<T>): Promise<T> {
    if (this.closed) return Promise.reject(new BackendUnavailableError(`memcached ${this.options.label}: the client is closed`));
    // A monotonic clock: the wall clock stepped back (NTP, a resumed VM) would stretch deadlines and pauses.
    const now = performance.now();
    const wait = this.stream || this.connecting ? 0 : this.options.health.waitMs(now);
    if (wait > 0) return Promise.reject(new BackendUnavailableError(`memcached ${this.options.label} is down; next attempt in ${Math.ceil(wait)} ms`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ command, deadline: now + this.options.timeoutMs, resolve: resolve as (value: unknown) => void, reject });
      if (this.stream) this.stream.write(command.bytes);
      else if (!this.connecting) this.open();
      this.timer ??= setTimeout(() => this.checkDeadlines(), this.options.timeoutMs);
    });
  }

  /** Close the socket and fail whatever is still waiting; later sends are refused. */
  close(): void {
    this.closed = true;
    this.fail(new BackendUnavailableError(`memcached ${this.options.label}: the client is closed`), false);
  }

  private open(): void {
    const controller = new AbortController();
    this.connecting = controller;
    // Once the connection is dropped (see `dispatch`), what else came in the same bytes is not read.
    const parser = new ResponseParser((response) => current() && this.dispatch(response));
    let stream: ByteStream | undefined;
    // Only the stream this connection opened and still uses may speak: not one it gave up on
    // (whose connector calls back anyway), nor one before it opened (its failure comes as a rejection).
    const current = (): boolean => stream !== undefined && this.stream === stream;
    /** Set when the stream ended before its connector handed it over (see `onClose`). */
    let closedEarly: { error?: Error } | undefined;
    /** Fail the connection: its stream ended. */
    const lost = (error?: Error): void => {
      const reason = error ? `connection lost (${error.message})` : "connection closed by the server";
      this.fail(new BackendUnavailableError(`memcached ${this.options.label}: ${reason}`), this.queue.length > 0);
    };
    const listener = {
      onData: (bytes: Uint8Array) => {
        if (!current()) return;
        try {
          parser.push(bytes);
        } catch (error) {
          this.fail(new BackendUnavailableError(`memcached ${this.options.label}: ${(error as Error).message}`), true);
        }
      },
      onClose: (error?: Error) => {
        // A stream may end before its connector has handed it over (a server at its connection
        // limit hangs up at once): that fails the connection as soon as it is handed over.
        if (stream === undefined && this.connecting === controller) closedEarly = { error };
        if (!current()) return;
        this.stream = undefined;
        lost(error);
      },
    };
    // A connector that throws rather than rejecting fails the connection the same way.
    new Promise<ByteStream>((resolve) => resolve(this.options.connect(this.options.address, listener, controller.signal))).then(
      (opened) => {
        if (this.connecting !== controller) return opened.close(); // given up on meanwhile
        this.connecting = undefined;
        if (closedEarly) {
          opened.close(); // let the connector free what it holds; it has ended anyway
          return lost(closedEarly.error);
        }
        this.stream = stream = opened;
        this.opens++;
        // Not yet recovered: a frozen or overloaded server still takes connections (the kernel
        // does), so its failures in a row end with its first answer (see `dispatch`).
        this.answered = false;
        for (const pending of this.queue) opened.write(pending.command.bytes);
      },
      (error: Error) => {
        if (this.connecting !== controller) return;
        this.fail(new BackendUnavailableError(`memcached ${this.options.label}: cannot connect (${error.message})`), true);
      },
    );
  }

  private dispatch(response: Response): void {
    const pending = this.queue[0];
    if (!pending) throw new Error(`unexpected response ${response.code} with no request waiting`);
    if (!this.answered) {
      this.answered = true;
      this.options.health.recovered();
    }
    let result: unknown;
    try {
      result = pending.command.read(response);
    } catch (error) {
      this.queue.shift();
      pending.reject(error as Error);
      // A command line memcached could not read: it may have taken what followed (a value's
      // bytes) for commands, so no later answer on this connection can be trusted. A refusal of a
      // line it read (`CLIENT_ERROR flush_all not allowed`) leaves it in step.
      if (response.code === "ERROR" || (response.code === "CLIENT_ERROR" && MISREAD.test(response.message))) {
        this.fail(new BackendUnavailableError(`memcached ${this.options.label}: the connection was dropped after ${response.code} ${response.message}`.trimEnd()), false);
      }
      return;
    }
    if (result === MORE) return;
    this.queue.shift();
    pending.resolve(result);
  }

  private checkDeadlines(): void {
    this.timer = undefined;
    const oldest = this.queue[0];
    if (!oldest) return;
    const wait = oldest.deadline - performance.now();
    if (wait > 0) this.timer = setTimeout(() => this.checkDeadlines(), wait);
    else {
      // The calls past their deadline (the first in the queue) ran out of time: what page
      // caching's circuit breaker counts. The others, dropped with the connection, had not yet.
      const late = new BackendTimeoutError(`memcached ${this.options.label}: no answer within ${this.options.timeoutMs} ms`);
      const now = performance.now();
      while (this.queue[0] !== undefined && this.queue[0].deadline <= now) this.queue.shift()!.reject(late);
      this.fail(new BackendUnavailableError(`memcached ${this.options.label}: the connection was dropped after a call on it had no answer within ${this.options.timeoutMs} ms`), true);
    }
  }

  /** Drop the connection and fail every request on it; `count` a failure to back off from. */
  private fail(error: Error, count: boolean): void {
    this.connecting?.abort(error);
    this.connecting = undefined;
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    if (count) this.options.health.failed(performance.now(), this.options.retryDelayMs, this.options.maxRetryDelayMs);
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }
}
