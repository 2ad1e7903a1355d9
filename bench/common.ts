// What the HTTP benchmarks share: the portal in a child process of its own, a fresh migrated database,
// CPU accounting from /proc, percentiles, and the machine's description.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { generate } from "otplib";
import { withDatabase } from "../app/lib/migrate.server.ts";
import { newSigningKeySet } from "../app/lib/env.server.ts";

export const root = path.resolve(import.meta.dirname, "..");

export function positive(name: string, value: string | undefined, whole = true): number {
  const n = Number(value);
  if (!(n > 0) || (whole && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${whole ? "whole " : ""}number, not ${value}.`);
  return n;
}

/** A temporary folder for one bench run, removed on any exit (Ctrl-C included) after `onExit`, e.g. killing the server. */
export function benchFolder(prefix: string, onExit: () => void = () => {}): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on("exit", () => {
    onExit();
    rmSync(folder, { recursive: true, force: true });
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));
  return folder;
}

export const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN);
export const median = (xs: number[]) =>
  pct(
    xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b),
    50,
  );

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/**
 * CPU seconds of a process and its descendants (the server processes under WEB_CONCURRENCY), split into
 * their main (JavaScript) threads and the rest (libuv pool: argon2; V8 helpers).
 */
export function threadCpu(pid: number | undefined): { main: number; other: number } {
  const out = { main: 0, other: 0 };
  if (!pid) return out;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ");
      out[Number(tid) === pid ? "main" : "other"] += (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
    }
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean)) {
      const sub = threadCpu(Number(child));
      out.main += sub.main;
      out.other += sub.other;
    }
  } catch {} // not Linux, or the thread ended between readdir and read
  return out;
}

/** Busy and steal CPU seconds of the whole machine, all cores. */
export function machineCpu(): { busy: number; steal: number } {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number) as number[];
    return { busy: (user! + nice! + system! + irq! + softirq!) / CLK_TCK, steal: steal! / CLK_TCK };
  } catch {
    return { busy: NaN, steal: NaN };
  }
}

export type CpuSnapshot = { at: number; machine: ReturnType<typeof machineCpu>; bench: number; server: ReturnType<typeof threadCpu> };

export function cpuSnapshot(serverPid: number | undefined): CpuSnapshot {
  const own = process.cpuUsage();
  return { at: performance.now(), machine: machineCpu(), bench: (own.user + own.system) / 1e6, server: threadCpu(serverPid) };
}

/** CPU seconds between two snapshots: the server's threads, the bench, and the rest of the machine. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot) {
  const wall = (b.at - a.at) / 1000;
  const cores = os.cpus().length;
  const serverMain = b.server.main - a.server.main;
  const serverOther = b.server.other - a.server.other;
  const bench = b.bench - a.bench;
  const foreign = b.machine.busy - a.machine.busy - bench - serverMain - serverOther;
  return {
    wall,
    serverMain,
    serverOther,
    bench,
    foreignPct: Math.max(0, (foreign / wall / cores) * 100),
    stealPct: ((b.machine.steal - a.machine.steal) / wall / cores) * 100,
  };
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? "unknown CPU"}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}`;
}

function newest(target: string): number {
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(target, { withFileTypes: true }).map((e) => newest(path.join(target, e.name))));
}

/** Builds the app when asked, when there is no build, or when the sources are newer than it. */
export function ensureBuild(force: boolean) {
  const built = path.join(root, "build/server/index.js");
  const sources = ["app", "vite.config.ts"].map((p) => path.join(root, p)).filter(existsSync);
  const stale = !existsSync(built) || Math.max(...sources.map(newest)) > statSync(built).mtimeMs;
  if (!force && !stale) return;
  console.log("Building the app (npx remix vite:build)…");
  const result = spawnSync("npx", ["remix", "vite:build"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (result.status !== 0) throw new Error(`The build failed:\n${result.stdout}${result.stderr}`);
}

export type PortalReply = {
  status: number;
  headers: http.IncomingHttpHeaders;
  location: string;
  /** The first Set-Cookie's name=value (the session), and all of them. */
  cookie: string;
  cookies: string[];
  body: string;
};

export type PortalRequest = {
  port: number;
  /** The public origin: its host is sent as Host, and as Origin on a POST (the portal refuses one without). */
  origin: string;
  method: "GET" | "POST";
  path: string;
  form?: Record<string, string>;
  cookie?: string;
  accept?: string;
  userAgent: string;
  agent?: http.Agent;
  /** Sees the request before it goes out: to time it out, track it, or read `reusedSocket` after an error. */
  onRequest?: (req: http.ClientRequest) => void;
};

/**
 * One request to the portal as a browser sends it, by address (node:http rather than fetch: a load generator
 * shares the cores with the server, so it should be cheap).
 */
export function portalRequest(r: PortalRequest): Promise<PortalReply> {
  const body = r.form ? new URLSearchParams(r.form).toString() : "";
  const headers: http.OutgoingHttpHeaders = { Host: new URL(r.origin).host, "User-Agent": r.userAgent };
  if (r.accept) headers.Accept = r.accept;
  // The portal refuses a POST without Origin (or Sec-Fetch-Site), as it would one from another site.
  if (r.method !== "GET") headers.Origin = r.origin;
  if (r.form) Object.assign(headers, { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body) });
  if (r.cookie) headers.Cookie = r.cookie;
  return new Promise((resolve, reject) => {
    const req = http.request({ agent: r.agent, host: "127.0.0.1", port: r.port, path: r.path, method: r.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const cookies = (res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]!);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          location: res.headers.location ?? "",
          cookie: cookies[0] ?? "",
          cookies,
          body: Buffer.concat(chunks).toString("utf8"),
        });
      });
    });
    req.on("error", reject);
    r.onRequest?.(req);
    req.end(body);
  });
}

/** Signs in with password and TOTP as a browser does; the session cookie. */
export async function signIn(base: Pick<PortalRequest, "port" | "origin" | "userAgent">, identifier: string, password: string, totpSecret: string) {
  const first = await portalRequest({ ...base, method: "POST", path: "/login?index", form: { intent: "password", identifier, password } });
  if (first.location !== "/login/totp") throw new Error(`The password step answered ${first.status} ${first.location}.`);
  const code = await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) });
  const second = await portalRequest({ ...base, method: "POST", path: "/login/totp", form: { code }, cookie: first.cookie });
  if (second.location !== "/") throw new Error(`The code step answered ${second.status} ${second.location}.`);
  return second.cookie;
}

/** `times` sequential GETs of one page, each expected to answer 200: their durations in ms, sorted. */
export async function timeGets(r: Pick<PortalRequest, "port" | "origin" | "userAgent" | "cookie" | "path">, times: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    const reply = await portalRequest({ ...r, method: "GET" });
    if (reply.status !== 200) throw new Error(`GET ${r.path}: ${reply.status}`);
    ms.push(performance.now() - started);
  }
  return ms.sort((a, b) => a - b);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** The portal's environment for a bench: production mode, its own database and outbox under `tmp`, new secrets. */
export function benchEnv(tmp: string, port: number, databaseUrl = `file:${path.join(tmp, "bench.db")}`): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: "production",
    PORT: String(port),
    APP_ORIGIN: `http://localhost:${port}`,
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: randomBytes(32).toString("base64url"),
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString("hex"),
    OIDC_JWKS: newSigningKeySet(),
    OUTBOX_DIR: path.join(tmp, "outbox"),
    SMTP_URL: "",
    DEMO_MODE: "false",
    TRUST_PROXY: "false",
  };
}

export type DatabaseKind = "sqlite" | "postgres";

export function databaseKind(value: string | undefined): DatabaseKind {
  if (value === "sqlite" || value === "postgres") return value;
  throw new Error(`--database must be sqlite or postgres, not ${value}.`);
}

const createdDatabases: { server: string; name: string }[] = [];

async function onPostgres<T>(server: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A new, empty database for a bench: a file under `tmp`, or a database created on the PostgreSQL server
 * named by BENCH_PG_URL (a URL of a database on it, e.g. …/postgres). `dropBenchDatabases` removes those.
 */
export async function benchDatabase(kind: DatabaseKind, tmp: string, label: string): Promise<string> {
  if (kind === "sqlite") return `file:${path.join(tmp, `${label}.db`)}`;
  const server = process.env.BENCH_PG_URL;
  if (!server || !/^postgres(ql)?:\/\//.test(server)) {
    throw new Error(
      "--database postgres needs BENCH_PG_URL=postgresql://user@host:port/postgres, a server where the bench may create databases (npm run bench:pg starts one).",
    );
  }
  const name = `bench_${label.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  await onPostgres(server, (c) => c.query(`CREATE DATABASE "${name}"`));
  createdDatabases.push({ server, name });
  return withDatabase(server, name);
}

export async function dropBenchDatabases() {
  for (const { server, name } of createdDatabases.splice(0)) {
    await onPostgres(server, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).catch((error: Error) =>
      console.error(`Could not drop the bench database ${name}: ${error.message}`),
    );
  }
}

/** How the database is described next to the figures. */
export async function databaseLabel(url: string): Promise<string> {
  if (url.startsWith("file:")) return "SQLite (better-sqlite3, WAL)";
  const version = await onPostgres(url, (c) => c.query<{ v: string }>("SELECT current_setting('server_version') AS v").then((r) => r.rows[0]!.v));
  const settings = await onPostgres(url, (c) =>
    c
      .query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')")
      .then((r) => r.rows.map((x) => `${x.name}=${x.setting}`).join(", ")),
  );
  return `PostgreSQL ${version} on ${new URL(url).hostname} (${settings})`;
}

export function migrate(env: NodeJS.ProcessEnv) {
  const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/db.ts", "deploy"], { cwd: root, env, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`Migrating the bench database failed:\n${result.stdout}${result.stderr}`);
}

/** The built portal in its own process group, so that it (and nothing else) can be killed on any exit. */
export class Portal {
  private child: ChildProcess | undefined;
  /** The tail of what the server printed, shown when something fails. */
  output = "";

  get pid() {
    return this.child?.pid;
  }

  async start(env: NodeJS.ProcessEnv, port: number, cpuProfDir?: string) {
    const profile = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(cpuProfDir)}`] : [];
    const child = (this.child = spawn(process.execPath, [...profile, "--import", "tsx", "server/index.ts"], {
      cwd: root,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    }));
    for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (c: Buffer) => (this.output = (this.output + c.toString()).slice(-4000)));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error("The server stopped while starting.");
      const ok = await new Promise<boolean>((resolve) => {
        http.get({ host: "127.0.0.1", port, path: "/healthz" }, (res) => (res.resume(), resolve(res.statusCode === 200))).on("error", () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("The server did not answer /healthz within 30 s.");
  }

  /** SIGTERM, so that a CPU profile gets written; at most 5 s. */
  async stop() {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    process.kill(-child.pid, "SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  kill() {
    const child = this.child;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
  }
}

/**
 * Runs a bench's `main`: on failure one sentence and the server's last output; always the server killed, the
 * bench databases dropped, and the process ended (keep-alive sockets would hold it open).
 */
export function runBench(main: () => Promise<void>, server: Portal) {
  main()
    .catch((error) => {
      console.error((error as Error).message);
      if (server.output.trim()) console.error(`The server's last output:\n${server.output.trim()}`);
      process.exitCode = 1;
    })
    .finally(async () => {
      server.kill();
      await dropBenchDatabases();
      process.exit();
    });
}
