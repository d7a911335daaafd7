/**
 * Child processes for the runtime matrix: run a command to completion with a time limit, or start
 * a server and learn its address from what it prints.
 */
import { spawn } from "node:child_process";

/**
 * The runtimes' binaries: Deno and Bun from the devDependencies, Node 22 and 24 from runtimes/
 * (`npm install --prefix runtimes`).
 *
 * @example
 * await runCommand(BINARIES.deno, ["--version"], 10_000);
 */
export const BINARIES = {
  deno: "node_modules/.bin/deno",
  bun: "node_modules/.bin/bun",
  node22: "runtimes/node_modules/node22/bin/node",
  node24: "runtimes/node_modules/node24/bin/node",
} as const;

/**
 * What a finished command left: its exit code (null when killed), its stdout and stderr
 * interleaved, and its stdout alone.
 *
 * @example
 * const { code, output }: Finished = await runCommand("node_modules/.bin/bun", ["--version"], 10_000);
 */
export interface Finished {
  code: number | null;
  output: string;
  stdout: string;
}

/** Environment for every child: plain output, no colours and no update checks. */
const quiet = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };

/**
 * Run `command` with `args` from the repository root, killing it after `timeoutMs`.
 *
 * @example
 * const { code, output } = await runCommand("node_modules/.bin/deno", ["run", "test/runtimes/cli.ts"], 120_000);
 */
export function runCommand(command: string, args: readonly string[], timeoutMs: number, env: Record<string, string> = {}): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...quiet, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs / 1000} s)`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: `${output}\n${error.message}`, stdout });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, stdout });
    });
  });
}

/**
 * A started server: its origin (`http://127.0.0.1:PORT`), everything it printed so far, and a way
 * to stop it.
 *
 * @example
 * const server: Server = await startServer("node_modules/.bin/bun", ["examples/bun/server.ts"], 30_000, { PORT: "0" });
 */
export interface Server {
  origin: string;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * Start a server and wait until it prints `Listening on http://HOST:PORT`, for at most
 * `timeoutMs`. The server must pick a free port itself (port 0).
 *
 * @example
 * const server = await startServer("node_modules/.bin/bun", ["examples/bun/server.ts"], 30_000, { PORT: "0" });
 * await fetch(server.origin);
 * await server.stop();
 */
export function startServer(command: string, args: readonly string[], timeoutMs: number, env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(command, args, { env: { ...quiet, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      void stop().then(() => reject(new Error(`${reason}\n${output}`)));
    };
    const timer = setTimeout(() => fail(`no "Listening on" within ${timeoutMs / 1000} s`), timeoutMs);
    const listen = (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /Listening on (http:\/\/[\w.[\]:-]+:\d+)/.exec(output);
      if (listening) {
        clearTimeout(timer);
        resolve({ origin: listening[1]!, output: () => output, stop });
      }
    };
    child.stdout.on("data", listen);
    child.stderr.on("data", listen);
    child.once("error", (error) => fail(error.message));
    void exited.then(() => fail(`exited with ${child.exitCode ?? child.signalCode}`));
  });
}
