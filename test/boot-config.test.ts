// A server started with a wrong environment says which variable, in one line, and stops: no engine backtrace,
// whichever module first reads the environment (the database client reads it while modules load).
import { afterEach, describe, expect, it } from "vitest";
import { appEnv, freePort, NodeProcess } from "./processes.ts";

const started: NodeProcess[] = [];
afterEach(() => {
  for (const server of started.splice(0)) server.child.kill("SIGKILL");
});

describe("a wrong environment at boot", () => {
  it.each([
    ["a number that is not one", { SQLITE_BUSY_TIMEOUT_MS: "abc" }, "The environment variable SQLITE_BUSY_TIMEOUT_MS is invalid"],
    ["an unknown database", { DATABASE_URL: "mysql://db.example/portal" }, "The environment variable DATABASE_URL is invalid"],
    ["demo mode in production", { NODE_ENV: "production", DEMO_MODE: "true" }, "The environment variable DEMO_MODE must not be true with NODE_ENV=production"],
  ])(
    "%s: exit code 1, the sentence, no stack",
    async (_what, extra, sentence) => {
      const server = new NodeProcess(["server/index.ts"], appEnv({ ...extra, PORT: String(await freePort()) }));
      started.push(server);
      await server.exited;
      expect(server.child.exitCode).toBe(1);
      expect(server.output).toContain(sentence);
      expect(server.output).not.toMatch(/^\s+at /m);
      expect(server.output.trim().split("\n")).toHaveLength(1);
    },
    30_000,
  );
});
