import { vitePlugin as remix } from "@remix-run/dev";
import { configDefaults, defineConfig } from "vitest/config";
import path from "node:path";

declare module "@remix-run/node" {
  interface Future {
    v3_singleFetch: true;
  }
}

export default defineConfig({
  resolve: { alias: { "~": path.resolve("app"), "#emails": path.resolve("emails") } },
  plugins: [
    !process.env.VITEST &&
      remix({
        future: {
          v3_fetcherPersist: true,
          v3_relativeSplatPath: true,
          v3_throwAbortReason: true,
          v3_singleFetch: true,
          // Off: with ~30 routes the whole manifest is small, and discovering routes lazily re-ranks every
          // route on each page render (about a seventh of the server's CPU under load, bench/load.ts).
          v3_lazyRouteDiscovery: false,
        },
      }),
  ],
  build: { target: "es2022" },
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    // Several instances need PostgreSQL: that file belongs to the PostgreSQL run only (scripts/test-all.sh).
    exclude: [...configDefaults.exclude, ...(process.env.TEST_DATABASE === "postgres" ? [] : ["test/multi-instance.test.ts"])],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/setup.ts"],
    pool: "forks",
    testTimeout: 20_000,
  },
});
