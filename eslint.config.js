// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".wrangler/", "coverage/", ".scratch/", "runtimes/node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // src/ is runtime-agnostic: Web standards only.
    files: ["src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["node:*", "bun:*", "cloudflare:*"], message: "src/ is runtime-agnostic; Node-only code belongs in an adapter." }] }],
      "no-restricted-globals": ["error", "process", "Buffer", "Deno", "Bun", "require", "__dirname"],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "no-restricted-properties": ["error",
        { object: "it", property: "only" }, { object: "it", property: "skip" },
        { object: "describe", property: "only" }, { object: "describe", property: "skip" },
        { object: "test", property: "only" }, { object: "test", property: "skip" }],
    },
  },
);
