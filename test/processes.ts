// Real app processes for tests: the built server (`server/index.ts`) or a script, started with the test's
// environment on the test file's database, and stopped either politely (SIGTERM) or like a crash (SIGKILL).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { PASSWORD, totpCode } from "./helpers.ts";

import { portalRequest, type PortalReply } from "../bench/common.ts";

export { freePort } from "../bench/common.ts";

export const root = path.resolve(import.meta.dirname, "..");

/** The test's environment (database, secrets, the stand-in) without Vitest's variables, with `extra` on top. */
export function appEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of Object.keys(env)) if (name.startsWith("VITEST")) delete env[name];
  return env;
}

/** The server runs the production build; scripts/test-all.sh builds before Vitest, this builds when it is missing. */
export function ensureBuild() {
  if (existsSync(path.join(root, "build/server/index.js"))) return;
  const built = spawnSync("npx", ["remix", "vite:build"], { cwd: root, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`The build failed:\n${built.stdout}\n${built.stderr}`);
}

/** `node --import tsx <args>` in its own process group, its output kept for error messages. */
export class NodeProcess {
  readonly child: ChildProcess;
  output = "";
  readonly exited: Promise<void>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) stream.on("data", (c: Buffer) => (this.output = (this.output + c.toString()).slice(-8000)));
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
  }

  get pid() {
    return this.child.pid!;
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL to the whole group: no handler runs, nothing is flushed or closed, as when a machine dies. */
  async kill() {
    if (!this.running) return;
    this.signal("SIGKILL");
    await this.exited;
  }

  async stop() {
    if (!this.running) return;
    this.signal("SIGTERM");
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000))]);
    await this.kill();
  }

  private signal(name: NodeJS.Signals) {
    try {
      process.kill(-this.pid, name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
}

/**
 * Polls `check` until it gives something (not null, undefined or false); fails after `timeoutMs`, or as soon
 * as `child` stops, saying what it waited for.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, child?: NodeProcess): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined && value !== false) return value;
    if (child && !child.running) throw new Error(`The process stopped while waiting for ${what}:\n${child.output}`);
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}.${child ? `\n${child.output}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type Reply = PortalReply;

/** A request as a browser sends it: to the server's address, with the public origin's Host (and Origin on a POST). */
export function send(
  port: number,
  method: "GET" | "POST",
  path: string,
  options: { form?: Record<string, string>; cookie?: string; accept?: string } = {},
): Promise<Reply> {
  return portalRequest({ port, origin: process.env.APP_ORIGIN!, method, path, ...options, userAgent: "test/processes.ts" });
}

/** One app instance: the built server on its own port. */
export class Instance {
  server?: NodeProcess;
  constructor(readonly port: number) {}

  start(env: NodeJS.ProcessEnv) {
    this.server = new NodeProcess(["server/index.ts"], { ...env, PORT: String(this.port) });
  }

  async ready() {
    await waitFor(`/healthz on port ${this.port}`, async () => (await this.request("GET", "/healthz").catch(() => null))?.status === 200, 30_000, this.server);
  }

  stop = () => this.server?.stop();
  kill = () => this.server?.kill();

  request(method: "GET" | "POST", pathname: string, form?: Record<string, string>, cookie = ""): Promise<Reply> {
    return send(this.port, method, pathname, { form, cookie });
  }
}

/** A browser's cookie jar, shared by instances as behind a load balancer (or across a restart). */
export class Jar {
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

/** Password, then the authenticator code, over HTTP. */
export async function signIn(on: Instance, jar: Jar, email: string, secret: string) {
  const password = jar.store(await on.request("POST", "/login?index", { intent: "password", identifier: email, password: PASSWORD }));
  expect(password.location, password.body.slice(0, 500)).toBe("/login/totp");
  const totp = jar.store(await on.request("POST", "/login/totp", { code: await totpCode(secret) }, jar.header));
  expect(totp.status, totp.body.slice(0, 500)).toBe(302);
  expect(totp.location).not.toMatch(/^\/login/);
}

export type CliRun = { code: number | null; stdout: string; stderr: string };

/** One CLI command as its own process (`node --import tsx scripts/…`), with the test file's database. */
export function cli(script: "portal" | "db", args: string[], input = "", extra: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", `scripts/${script}.ts`, ...args], { cwd: root, env: appEnv(extra) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() }));
    child.stdin.end(input);
  });
}
