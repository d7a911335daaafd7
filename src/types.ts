/**
 * The handler and wrapper types shared by every wrapper (`cacheControl`, `cachePage`, ...).
 */

/**
 * A Web-standard fetch handler: a request plus whatever the runtime passes after it (Workers'
 * `env, ctx`, Deno's `info`). Wrappers pass the extra arguments through untouched.
 *
 * @example
 * const handler: Handler = (request, env: Env) => new Response(env.GREETING);
 */
// `any[]` (not `unknown[]`) so handlers with typed extra parameters are assignable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (request: Request, ...args: any[]) => Response | Promise<Response>;

/**
 * A decorator for handlers that keeps the handler's type, arguments included.
 *
 * @example
 * const wrapped = neverCache((request: Request, env: Env) => new Response("hi")); // same type
 */
export type Wrapper = <H extends Handler>(handler: H) => H;
