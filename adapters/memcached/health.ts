/**
 * What this isolate knows of each memcached server's failures, shared by every connection to the
 * server: the connections of other backends over it, and on Workers, where a socket belongs to
 * one request and each request makes its own backend, the next request's. A server that failed
 * is left alone by all of them until its pause is over, instead of costing each new backend (each
 * request) a connection attempt and, for a server that does not answer, the whole time limit.
 */

/**
 * One server's failures in a row and when it may be tried again, on a monotonic clock in ms
 * (`performance.now()`).
 *
 * @example
 * const health = healthOf("10.0.0.1:11211");
 * if (health.waitMs(performance.now()) > 0) throw new BackendUnavailableError("down");
 */
export class ServerHealth {
  private failures = 0;
  private retryAt = 0;

  /** How long, from `now`, a new connection must wait before trying the server (0: it may try now). */
  waitMs(now: number): number {
    return Math.max(0, this.retryAt - now);
  }

  /**
   * A connection failed at `now`: pause for `retryDelayMs`, doubled for each failure in a row, up to
   * `maxRetryDelayMs`. A failure during the pause (another connection's, to the same outage) does
   * not lengthen it.
   */
  failed(now: number, retryDelayMs: number, maxRetryDelayMs: number): void {
    if (now < this.retryAt) return;
    this.failures++;
    this.retryAt = now + Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (this.failures - 1));
  }

  /** The server answered on a connection: it works again. */
  recovered(): void {
    this.failures = 0;
  }
}

const servers = new Map<string, ServerHealth>();

/**
 * The health of the server named `label` (`"10.0.0.1:11211"`, `"unix:/run/mc.sock"`) in this isolate.
 *
 * @example
 * healthOf("10.0.0.1:11211").failed(performance.now(), 100, 5000);
 */
export function healthOf(label: string): ServerHealth {
  let health = servers.get(label);
  if (!health) servers.set(label, (health = new ServerHealth()));
  return health;
}
