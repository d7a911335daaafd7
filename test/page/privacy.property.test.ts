/**
 * The privacy property: whatever the sequence of users and requests, a response generated for one
 * user's cookies or Authorization never reaches another user, unless the response said it was
 * explicitly shareable (public, s-maxage, must-revalidate); and a cookie set for one user never
 * reaches another, with `stripSetCookie` too.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cachePage } from "../../src/page/cache-page.ts";
import { cacheControl, varyOnCookie } from "../../src/wrappers.ts";
import type { Handler } from "../../src/types.ts";
import { pageBench, read } from "./setup.ts";

const users = ["alice", "bob", "carol"] as const;

function identity(request: Request): string {
  const auth = request.headers.get("authorization");
  if (auth) return `auth:${auth.slice("Bearer ".length)}`;
  const session = /(?:^|;\s*)sessionid=([^;]*)/.exec(request.headers.get("cookie") ?? "")?.[1];
  return session ? `session:${session}` : "anonymous";
}

const personal = (route: string) => async (request: Request) => new Response(`${route} for ${identity(request)}`);

/** Routes as apps write them: some declare how they vary, some are private, some leak by mistake in Django. */
const routes: Record<string, { handler: Handler; shareable: boolean }> = {
  "/vary-cookie": { handler: varyOnCookie(personal("vary-cookie")), shareable: false },
  "/private": { handler: cacheControl({ private: true })(personal("private")), shareable: false },
  "/no-store": { handler: cacheControl({ noStore: true })(personal("no-store")), shareable: false },
  "/sets-cookie": {
    handler: async (request) => new Response(`sets-cookie for ${identity(request)}`, { headers: { "set-cookie": `seen=${identity(request)}` } }),
    shareable: false,
  },
  "/authorization": {
    // Reads Authorization without declaring anything: Django would cache and share it.
    handler: async (request) => new Response(`authorization for ${request.headers.get("authorization") ? identity(request) : "anonymous"}`),
    shareable: false,
  },
  "/public": { handler: cacheControl({ public: true })(personal("public")), shareable: true },
  // What stripSetCookie is for: the same page for everyone, with a cookie of one's own.
  "/sets-session": {
    handler: async (request) => new Response("the same page for everyone", { headers: { "set-cookie": `sid=${identity(request)}` } }),
    shareable: true,
  },
};
/** Routes whose body depends on who asks although they set a cookie: `stripSetCookie` is not for them. */
const personalWithCookie = new Set(["/sets-cookie"]);

const request = fc.record({
  user: fc.constantFrom(...users),
  route: fc.constantFrom(...Object.keys(routes)),
  sendCookie: fc.boolean(),
  sendAuthorization: fc.boolean(),
  analytics: fc.option(fc.integer({ min: 0, max: 3 })),
  method: fc.constantFrom("GET", "HEAD"),
  advance: fc.constantFrom(0, 0, 0, 30, 61),
});

type Step = { user: (typeof users)[number]; route: string; sendCookie: boolean; sendAuthorization: boolean; analytics: number | null; method: string; advance: number };
const step = (user: Step["user"], route: string, extra: Partial<Step> = {}): Step =>
  ({ user, route, sendCookie: true, sendAuthorization: false, analytics: null, method: "GET", advance: 0, ...extra });
/** The sequences that leak in Django, always tried first. */
const leakSeeds: Array<[Step[], boolean, boolean]> = [
  [[step("alice", "/sets-cookie"), step("bob", "/sets-cookie")], false, false],
  [[step("alice", "/authorization", { sendAuthorization: true }), step("bob", "/authorization", { sendAuthorization: true })], false, false],
  [[step("alice", "/vary-cookie", { sendCookie: false, sendAuthorization: true }), step("alice", "/vary-cookie", { sendCookie: false })], false, false],
  [[step("alice", "/vary-cookie", { analytics: 1 }), step("bob", "/vary-cookie", { analytics: 1 })], true, false],
  [[step("alice", "/sets-session"), step("bob", "/sets-session")], false, true],
];

describe("privacy property", () => {
  it("never serves one user's personal page to another user", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 25, size: "medium" }), fc.boolean(), fc.boolean(), async (sequence, namedCookies, stripSetCookie) => {
        const bench = pageBench();
        const options = { cache: bench.cache, now: bench.clock.now, waitUntil: bench.waitUntil, stripSetCookie, ...(namedCookies ? { varyCookies: ["sessionid"] } : {}) };
        const wrapped = Object.fromEntries(Object.entries(routes).map(([path, route]) => [path, cachePage(60, options)(route.handler)]));
        for (const step of sequence) {
          bench.clock.advance(step.advance);
          const cookies = [step.sendCookie ? `sessionid=${step.user}` : "", step.analytics === null ? "" : `_ga=${step.analytics}`].filter(Boolean).join("; ");
          const headers: Record<string, string> = {};
          if (cookies) headers.cookie = cookies;
          if (step.sendAuthorization) headers.authorization = `Bearer ${step.user}`;
          const req = new Request(`https://example.com${step.route}`, { method: step.method, headers });
          const response = await read(wrapped[step.route]!(req));
          await bench.settle();
          const own = await routes[step.route]!.handler(req);
          const setCookies = response.headers.getSetCookie();
          if (setCookies.length > 0) expect(setCookies, `cookies of ${step.route} for ${identity(req)} (${response.cacheStatus})`).toEqual(own.headers.getSetCookie());
          if (routes[step.route]!.shareable || step.method === "HEAD" || (stripSetCookie && personalWithCookie.has(step.route))) continue;
          expect(response.body, `${step.route} as ${identity(req)} (${response.cacheStatus})`).toBe(await own.text());
        }
      }),
      { numRuns: 300, examples: leakSeeds },
    );
  });
});
