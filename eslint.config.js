// ESLint (flat config): typescript-eslint's recommended rules, and the layer rules of the sign-in core
// (docs/DESIGN.md, "The sign-in core"): who may import the rule, the throttle, the password and TOTP
// primitives and the database, and that the app never imports the test stand-in.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const RULE = {
  group: ["**/signin/rule", "**/signin/rule.ts"],
  message: "Only app/lib/signin/methods.server.ts reads the rule: ask signInStrategyFor, orgMethods or whatIf.",
};
const STAND_IN = { group: ["**/test/**", "../test/*", "../../test/*"], message: "The app never imports the test stand-in or test helpers." };
const PRIMITIVES = {
  group: ["**/throttle.server", "**/throttle.server.ts", "**/passwords.server", "**/passwords.server.ts", "**/totp.server", "**/totp.server.ts"],
  message: "Routes use the sign-in core's steps (app/lib/signin/): throttling, password and code checks happen only inside them.",
};
const DB = {
  group: ["~/lib/db.server", "~/lib/db.server.ts"],
  message: "Sign-in routes read and write sign-in state only through a domain function (app/lib/signin/, profile.server.ts).",
};

const restrict = (...patterns) => ["error", { patterns }];

export default tseslint.config(
  { ignores: ["build/", "app/generated/", "node_modules/", ".tmp/", "data/", "test-results/", "playwright-report/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: "readonly",
        process: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        URLSearchParams: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        fetch: "readonly",
        Request: "readonly",
        Response: "readonly",
        Headers: "readonly",
        FormData: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        TextEncoder: "readonly",
        TextDecoder: "readonly",
        structuredClone: "readonly",
        queueMicrotask: "readonly",
        performance: "readonly",
        crypto: "readonly",
        Blob: "readonly",
        File: "readonly",
        document: "readonly",
        window: "readonly",
        navigator: "readonly",
        setImmediate: "readonly",
        global: "readonly",
        globalThis: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/no-explicit-any": "off",
      "no-empty-pattern": "off",
      // Empty catches say "this may fail, and that is fine" (best-effort cleanup); control characters are
      // matched on purpose where input is cleaned.
      "no-empty": ["error", { allowEmptyCatch: true }],
      "no-control-regex": "off",
    },
  },
  { files: ["app/**/*.{ts,tsx}"], rules: { "no-restricted-imports": restrict(RULE, STAND_IN) } },
  { files: ["app/lib/signin/methods.server.ts"], rules: { "no-restricted-imports": restrict(STAND_IN) } },
  { files: ["app/routes/**/*.{ts,tsx}"], rules: { "no-restricted-imports": restrict(RULE, STAND_IN, PRIMITIVES) } },
  {
    // The pages of signing in and of one's own factors: no database either.
    files: ["app/routes/{_index,login*,auth.*,settings*,link-microsoft,invite,reset-password,forgot-password}.tsx"],
    rules: { "no-restricted-imports": restrict(RULE, STAND_IN, PRIMITIVES, DB) },
  },
  {
    // The Microsoft client stays a plain client below the sign-in core.
    files: ["app/lib/microsoft/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict(RULE, STAND_IN, {
        group: ["**/signin/*"],
        message: "app/lib/microsoft/ is the plain client below the sign-in core: it does not call up into it.",
      }),
    },
  },
);
