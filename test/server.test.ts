// The built server as it runs in production: its security headers on http and https origins, and several
// server processes on one port (WEB_CONCURRENCY) that share sessions and replace one that dies.
import { readFileSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "./helpers.ts";
import { appEnv, ensureBuild, freePort, Instance, Jar, send, signIn, waitFor } from "./processes.ts";

const production = () => appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" });

const headersOf = async (port: number, pathname: string) => (await send(port, "GET", pathname)).headers;

function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

describe("security headers of the built server", () => {
  const servers: Instance[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.stop())));
  const start = async (origin: string) => {
    const server = new Instance(await freePort());
    servers.push(server);
    server.start({ ...production(), APP_ORIGIN: origin });
    await server.ready();
    return server;
  };
  beforeAll(ensureBuild, 180_000);

  it("sends HSTS when the public origin is https, with the other headers", async () => {
    const server = await start("https://portal.example.test");
    const headers = await headersOf(server.port, "/login");
    expect(headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    expect(headers["content-security-policy"]).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["cache-control"]).toBe("no-store");
  }, 60_000);

  it("sends no HSTS on an http origin (a browser would ignore it, and local setups would break)", async () => {
    const server = await start("http://localhost:3000");
    const headers = await headersOf(server.port, "/login");
    expect(headers["strict-transport-security"]).toBeUndefined();
    expect(headers["x-content-type-options"]).toBe("nosniff");
  }, 60_000);
});

describe("WEB_CONCURRENCY=2", () => {
  const portal = new Instance(0);
  beforeAll(async () => {
    ensureBuild();
    (portal as { port: number }).port = await freePort();
    portal.start({ ...production(), WEB_CONCURRENCY: "2" });
    await portal.ready();
    await waitFor("two server processes", async () => childPids(portal.server!.pid).length === 2, 30_000, portal.server);
  }, 180_000);
  afterAll(() => portal.stop());

  it("serves a signed-in user from either process, and replaces a process that dies", async () => {
    const { user, secret } = await createUser();
    const jar = new Jar();
    await signIn(portal, jar, user.email!, secret);
    const [first, second] = childPids(portal.server!.pid);
    process.kill(first!, "SIGKILL");
    // Connections the dead process held are reset (a browser opens a new one and retries). Once the primary
    // has noticed (it says so), new ones reach the survivor: the session lives in the database, not in the
    // process that made it. (A connection handed over in between is lost: clients time out and retry.)
    await waitFor("the primary to notice", async () => portal.server!.output.includes("stopped (SIGKILL)"), 10_000, portal.server);
    http.globalAgent.destroy();
    for (let i = 0; i < 4; i++) expect((await portal.request("GET", "/settings", undefined, jar.header)).status).toBe(200);
    const replaced = await waitFor(
      "a new server process",
      async () => {
        const pids = childPids(portal.server!.pid);
        return pids.length === 2 && !pids.includes(first!) && pids;
      },
      30_000,
      portal.server,
    );
    expect(replaced).toContain(second);
    await portal.ready();
    expect((await portal.request("GET", "/settings", undefined, jar.header)).status).toBe(200);
  }, 90_000);
});
