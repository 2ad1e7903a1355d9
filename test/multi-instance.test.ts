// Two app instances on one PostgreSQL database, as behind a load balancer: a session made on one is valid
// on the other, failed sign-ins count across both, and "Sync now" pressed on both at once gives one run.
// Runs only with TEST_DATABASE=postgres (scripts/test-all.sh's second vitest run; vite.config.ts leaves it
// out of the SQLite run, where several instances are not supported). Starts the built server (`npx remix vite:build`, run before
// vitest in scripts/test-all.sh; built here when build/ is missing).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { accountKey } from "~/lib/throttle.server.ts";
import { FABRIKAM } from "./entra/fixture.ts";
import { createOrg, createUser, PASSWORD, totpCode } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";
import { usePostgres } from "./pg.ts";

const root = path.resolve(import.meta.dirname, "..");

type Reply = { status: number; location: string; cookies: string[]; body: string };

/** One app instance: a child process on its own port, reached by address with the public origin's Host. */
class Instance {
  process?: ChildProcess;
  output = "";
  constructor(readonly port: number) {}

  start(env: NodeJS.ProcessEnv) {
    this.process = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], { cwd: root, env: { ...env, PORT: String(this.port) }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.process.stdout!, this.process.stderr!]) stream.on("data", (c: Buffer) => (this.output = (this.output + c.toString()).slice(-4000)));
  }

  async ready() {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.process?.exitCode !== null) throw new Error(`The instance on port ${this.port} stopped while starting:\n${this.output}`);
      if ((await this.request("GET", "/healthz").catch(() => null))?.status === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`The instance on port ${this.port} did not answer /healthz within 30 s:\n${this.output}`);
  }

  async stop() {
    const child = this.process;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    process.kill(-child.pid, "SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  request(method: "GET" | "POST", pathname: string, form?: Record<string, string>, cookie = ""): Promise<Reply> {
    const origin = process.env.APP_ORIGIN!;
    const body = form ? new URLSearchParams(form).toString() : "";
    const headers: http.OutgoingHttpHeaders = { Host: new URL(origin).host, "User-Agent": "test/multi-instance.test.ts" };
    if (form) Object.assign(headers, { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body), Origin: origin });
    if (cookie) headers.Cookie = cookie;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: this.port, path: pathname, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location ?? "",
            cookies: (res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]!),
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      });
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** A cookie jar shared by the two instances, as a browser behind a load balancer has. */
class Jar {
  cookies = new Map<string, string>();
  store(reply: Reply) {
    for (const pair of reply.cookies) {
      const [name, ...rest] = pair.split("=");
      const value = rest.join("=");
      if (value) this.cookies.set(name!, value);
      else this.cookies.delete(name!);
    }
    return reply;
  }
  get header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

describe("two instances on one PostgreSQL database", () => {
  if (!usePostgres) throw new Error("This file needs TEST_DATABASE=postgres: several instances share one PostgreSQL database.");
  useStandin();
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    if (!existsSync(path.join(root, "build/server/index.js"))) {
      const built = spawnSync("npx", ["remix", "vite:build"], { cwd: root, encoding: "utf8" });
      if (built.status !== 0) throw new Error(`The build failed:\n${built.stdout}\n${built.stderr}`);
    }
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0" };
    for (const name of Object.keys(env)) if (name.startsWith("VITEST")) delete env[name];
    [a, b] = [new Instance(await freePort()), new Instance(await freePort())];
    a.start(env);
    b.start(env);
    await Promise.all([a.ready(), b.ready()]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  async function signIn(on: Instance, jar: Jar, email: string, secret: string) {
    const password = jar.store(await on.request("POST", "/login?index", { intent: "password", identifier: email, password: PASSWORD }));
    expect(password.location, password.body.slice(0, 500)).toBe("/login/totp");
    const totp = jar.store(await on.request("POST", "/login/totp", { code: await totpCode(secret) }, jar.header));
    expect(totp.status, totp.body.slice(0, 500)).toBe(302);
    expect(totp.location).not.toMatch(/^\/login/);
  }

  it("accepts on instance B a session signed in on instance A", async () => {
    const { user, secret } = await createUser();
    const jar = new Jar();
    await signIn(a, jar, user.email!, secret);
    expect((await b.request("GET", "/settings", undefined, jar.header)).status).toBe(200);
    expect((await b.request("GET", "/settings")).status).toBe(302);
  });

  it("counts failed sign-ins on both instances together", async () => {
    const { user } = await createUser();
    const attempt = (on: Instance) => on.request("POST", "/login?index", { intent: "password", identifier: user.email!, password: "wrong password" });
    // The fifth failure starts the wait; here it is the third on A, which alone would not have blocked.
    for (let i = 0; i < 4; i++) expect((await attempt(i % 2 ? b : a)).body).not.toContain("Too many failed attempts");
    expect((await attempt(a)).body).toContain("Too many failed attempts");
    expect((await db.signInThrottle.findUnique({ where: { key: accountKey(user.id) } }))?.failures).toBe(5);
  });

  it('gives exactly one run when "Sync now" is pressed on both instances at once', async () => {
    const org = await createOrg();
    const integration = await db.integration.create({ data: { orgId: org.id, tenantId: FABRIKAM.id, status: "active", displayName: "Fabrikam" } });
    await db.organization.update({ where: { id: org.id }, data: { ssoLicensed: true, syncIntegrationId: integration.id } });
    const { user, secret } = await createUser({ orgId: org.id, role: "admin" });
    const jar = new Jar();
    await signIn(a, jar, user.email!, secret);

    const replies = await Promise.all([a, b].map((on) => on.request("POST", "/admin/sync", { intent: "sync" }, jar.header)));
    expect(replies.map((r) => r.status).sort()).toEqual([302, 409]);
    for (let i = 0; i < 300 && (await db.syncRun.count({ where: { status: "running" } })); i++) await new Promise((r) => setTimeout(r, 100));
    const runs = await db.syncRun.findMany({ where: { integrationId: integration.id } });
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe("succeeded");
    expect(runs[0]!.created).toBeGreaterThan(0);
    expect(await db.user.count({ where: { orgId: org.id, source: "synced" } })).toBe(runs[0]!.created);
  });
});
