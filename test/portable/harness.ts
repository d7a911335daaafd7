/**
 * A dependency-free test harness that runs the same way on Node, Deno, Bun and workerd: suites
 * are values (a bundler honouring `"sideEffects": false` keeps them), `runTests` runs them one
 * test at a time, printing one line per test and a closing `N passed, N failed` line. Only Web
 * standards are used here.
 */

type TestFn = () => void | Promise<void>;

/**
 * Registers one test of a suite.
 *
 * @example
 * const define = (test: Test) => test("adds", () => equal(1 + 1, 2));
 */
export type Test = (name: string, fn: TestFn) => void;

/**
 * A named group of tests; `define` registers them when the suite runs.
 *
 * @example
 * const arithmetic: Suite = suite("arithmetic", (test) => test("adds", () => equal(1 + 1, 2)));
 */
export interface Suite {
  name: string;
  define: (test: Test) => void;
}

/**
 * A suite whose tests are named `<name> › <test name>`.
 *
 * @example
 * export default suite("core", (test) => {
 *   test("set then get", async () => equal(await cache.get("k"), 1));
 * });
 */
export function suite(name: string, define: (test: Test) => void): Suite {
  return { name, define };
}

/**
 * Counts of one run.
 *
 * @example
 * const summary: RunSummary = await runTests(suites, console.log); // { passed: 31, failed: 0 }
 */
export interface RunSummary {
  passed: number;
  failed: number;
}

/**
 * Run every test of `suites` one after another, printing `ok <name>` or `FAIL <name>` with the
 * error, then `N passed, N failed`.
 *
 * @example
 * const { failed } = await runTests([core, http], console.log);
 */
export async function runTests(suites: readonly Suite[], print: (line: string) => void): Promise<RunSummary> {
  const tests: { name: string; fn: TestFn }[] = [];
  for (const { name: prefix, define } of suites) define((name, fn) => tests.push({ name: `${prefix} › ${name}`, fn }));
  const summary: RunSummary = { passed: 0, failed: 0 };
  for (const { name, fn } of tests) {
    try {
      await fn();
      summary.passed++;
      print(`ok   ${name}`);
    } catch (error) {
      summary.failed++;
      print(`FAIL ${name}\n     ${error instanceof Error ? error.stack ?? error.message : show(error)}`);
    }
  }
  print(`${summary.passed} passed, ${summary.failed} failed`);
  return summary;
}

/**
 * A readable rendering of a value for failure messages (bigints, Maps, Sets and bytes included).
 *
 * @example
 * show(new Map([["a", 1n]])); // 'Map {"a" => 1n}'
 */
export function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return `Date(${value.toISOString()})`;
  if (value instanceof Uint8Array) return `Uint8Array [${value.join(", ")}]`;
  if (value instanceof Map) return `Map {${[...value].map(([k, v]) => `${show(k)} => ${show(v)}`).join(", ")}}`;
  if (value instanceof Set) return `Set {${[...value].map(show).join(", ")}}`;
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${k}: ${show(v)}`).join(", ")}}`;
  }
  return String(value);
}

function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof Map || a instanceof Set || Array.isArray(a) || a instanceof Uint8Array) {
    return sameItems(a as Iterable<unknown>, b as Iterable<unknown>);
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function sameItems(a: Iterable<unknown>, b: Iterable<unknown>): boolean {
  const left = [...a];
  const right = [...b];
  return left.length === right.length && left.every((item, i) => same(item, right[i]));
}

/**
 * Fail unless `actual` is structurally equal to `expected`: primitives by `Object.is`; arrays,
 * Maps, Sets, Dates and Uint8Arrays by content in order; plain objects by their own keys in any order.
 *
 * @example
 * equal(await cache.get("user"), { name: "Ada", tags: new Set(["x"]) });
 */
export function equal(actual: unknown, expected: unknown, message = "values differ"): void {
  if (!same(actual, expected)) throw new Error(`${message}: got ${show(actual)}, expected ${show(expected)}`);
}

/**
 * Fail unless `condition` is truthy.
 *
 * @example
 * ok(response.headers.has("etag"), "the response has an ETag");
 */
export function ok(condition: unknown, message = "expected a truthy value"): asserts condition {
  if (!condition) throw new Error(message);
}

/**
 * Fail unless `fn` throws (or returns a promise that rejects with) an instance of `type` whose
 * message matches `pattern`.
 *
 * @example
 * await throws(() => cache.incr("missing"), KeyNotFoundError, /missing/);
 */
export async function throws(fn: () => unknown, type: new (...args: never[]) => Error, pattern?: RegExp): Promise<void> {
  let outcome: unknown;
  try {
    await fn();
  } catch (error) {
    outcome = error;
  }
  if (!(outcome instanceof type)) throw new Error(`expected ${type.name}, got ${outcome === undefined ? "no error" : show(outcome)}`);
  if (pattern && !pattern.test(outcome.message)) throw new Error(`expected a message matching ${pattern}, got ${show(outcome.message)}`);
}
