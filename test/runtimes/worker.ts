/**
 * The portable suite as a Worker module for workerd, which has the Cache API: each request runs
 * the suite and answers its report, status 200 when every test passed and 500 otherwise.
 */
import { portableSuites, runTests } from "../portable/index.ts";

/**
 * The Worker.
 *
 * @example
 * const report = await (await miniflare.dispatchFetch("http://portable/")).text();
 */
const worker = {
  async fetch(): Promise<Response> {
    const lines: string[] = [];
    const { failed } = await runTests(portableSuites(true), (line) => lines.push(line));
    return new Response(lines.join("\n"), { status: failed > 0 ? 500 : 200 });
  },
};

export default worker;
