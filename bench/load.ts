// Mixed, open-loop load against the built portal on this machine: page loads, identifier-first lookups,
// password + TOTP sign-ins and Microsoft sign-ins (through the Entra stand-in), at a fixed request rate.
// Requests start on a schedule, not when the previous one finishes, so latency includes any queueing.
// Usage: npx tsx bench/load.ts [--rate 200] [--rounds 3] [--seconds 20] [--warmup 10] [--users N] [--workers 1] [--build] [--cpu-prof DIR]
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { generate } from "otplib";
import { CONTOSO } from "../test/entra/fixture.ts";
import { startStandin, type Standin } from "../test/entra/server.ts";

import {
  benchEnv,
  benchFolder,
  cpuBetween,
  cpuSnapshot,
  ensureBuild,
  freePort,
  machine,
  median,
  migrate,
  pct,
  Portal,
  portalRequest,
  positive,
  type CpuSnapshot,
  type PortalReply,
} from "./common.ts";
const { values: opts } = parseArgs({
  options: {
    rate: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "10" },
    users: { type: "string" },
    // Server processes (WEB_CONCURRENCY): one per core uses the whole machine.
    workers: { type: "string", default: "1" },
    build: { type: "boolean", default: false },
    // Writes a V8 CPU profile of the server to this folder (open it in Chrome DevTools).
    "cpu-prof": { type: "string" },
  },
});
const RATE = positive("rate", opts.rate, false);
const ROUNDS = positive("rounds", opts.rounds);
const SECONDS = positive("seconds", opts.seconds, false);
const WARMUP = positive("warmup", opts.warmup, false);
const WORKERS = positive("workers", opts.workers);
const PASSWORD = "bench-password-123";
const TARGET_P99_MS = 250;
const REQUEST_TIMEOUT_MS = 10_000;
const DRAIN_MS = 15_000; // after a round's last start, how long the operations still running may take
const SETTINGS_SESSIONS = 50;
const MICROSOFT_USERS = 200;

// ---- the mix, as shares of the app's requests ----

// A Microsoft sign-in counts as its two app requests (identifier POST, callback GET); the stand-in's are not the app's.
type Kind = "login" | "lookup" | "settings" | "password" | "totp" | "msIdentifier" | "msCallback";
const KINDS: { kind: Kind; label: string; hashing?: true }[] = [
  { kind: "login", label: "GET /login" },
  { kind: "lookup", label: "POST /login identifier → password page" },
  { kind: "settings", label: "GET /settings (signed in)" },
  { kind: "password", label: "POST /login password (argon2id)", hashing: true },
  { kind: "totp", label: "POST /login/totp" },
  { kind: "msIdentifier", label: "POST /login identifier → Microsoft" },
  { kind: "msCallback", label: "GET /auth/microsoft/callback" },
];
const label = (k: Kind) => KINDS.find((x) => x.kind === k)!.label;

type Op = "login" | "lookup" | "settings" | "signIn" | "microsoft";
/** Share of app requests and requests per operation: ops/s = rate × share / requests. */
const OPS: { op: Op; share: number; requests: number }[] = [
  { op: "login", share: 0.8 / 3, requests: 1 },
  { op: "lookup", share: 0.8 / 3, requests: 1 },
  { op: "settings", share: 0.8 / 3, requests: 1 },
  { op: "signIn", share: 0.15, requests: 2 },
  { op: "microsoft", share: 0.05, requests: 2 },
];
const opRate = (op: Op, rate: number) => {
  const o = OPS.find((x) => x.op === op)!;
  return (rate * o.share) / o.requests;
};

/** Smooth weighted round-robin: the operations interleave evenly, and every round has the same mix. */
function opSequence() {
  const current = OPS.map(() => 0);
  const total = OPS.reduce((s, o) => s + o.share / o.requests, 0);
  return () => {
    let best = 0;
    OPS.forEach((o, i) => {
      current[i]! += o.share / o.requests;
      if (current[i]! > current[best]!) best = i;
    });
    current[best]! -= total;
    return OPS[best]!.op;
  };
}

// ---- cleanup: the server, the stand-in and the temp folder go away on any exit, Ctrl-C included ----

const server = new Portal();
const tmp = benchFolder("load-bench-", () => server.kill());
let standin: Standin | undefined;

// ---- measuring ----

/** CPU between two snapshots as % of one core (server, bench), % of all cores (the rest, steal), ms per app request. */
function cpuSpent(a: CpuSnapshot, b: CpuSnapshot, requests: number) {
  const { wall, serverMain, serverOther, bench, foreignPct, stealPct } = cpuBetween(a, b);
  const ofCore = (s: number) => (s / wall) * 100;
  return {
    serverPct: ofCore(serverMain + serverOther),
    serverMainPct: ofCore(serverMain),
    serverOtherPct: ofCore(serverOther),
    serverMsPerRequest: ((serverMain + serverOther) * 1000) / Math.max(requests, 1),
    serverMainMsPerRequest: (serverMain * 1000) / Math.max(requests, 1),
    benchPct: ofCore(bench),
    foreignPct,
    stealPct,
  };
}

// ---- HTTP: the app over plain loopback HTTP, the stand-in over HTTPS ----

type Reply = Pick<PortalReply, "status" | "location" | "cookie" | "body">;

/** Closing every connection ends the operations a round left running, so that the next round starts clean. */
const connectionResets: (() => void)[] = [];

function appClient(port: number, origin: string) {
  // node:http rather than fetch: the load generator shares the 2 cores with the server, so it should be cheap.
  // Open loop: no cap worth the name on sockets, so that requests wait in the server, not in the client.
  const newAgent = () => new http.Agent({ keepAlive: true, maxSockets: 1024 });
  let agent = newAgent();
  const live = new Set<http.ClientRequest>();
  connectionResets.push(() => {
    for (const req of live) req.destroy(new Error("cut off at the end of the round"));
    live.clear();
    agent.destroy();
    agent = newAgent();
  });
  const request = async (method: "GET" | "POST", path: string, form?: Record<string, string>, cookie?: string, retried = false): Promise<Reply> => {
    let sent: http.ClientRequest | undefined;
    const track = (req: http.ClientRequest) => {
      sent = req;
      live.add(req);
      req.on("close", () => live.delete(req));
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    };
    try {
      return await portalRequest({ port, origin, method, path, form, cookie, agent, userAgent: "bench/load.ts", onRequest: track });
    } catch (error) {
      // The server closed an idle keep-alive connection as this request went out on it: nothing reached the
      // app, and browsers send the request again on a new connection. So does this client, once, and counts it.
      if (sent?.reusedSocket && (error as NodeJS.ErrnoException).code === "ECONNRESET" && !retried) {
        keepAliveRetries++;
        return request(method, path, form, cookie, true);
      }
      throw new Error(`network: ${(error as Error).message}`, { cause: error });
    }
  };
  return request;
}
let keepAliveRetries = 0;
type AppRequest = ReturnType<typeof appClient>;

function standinClient(certPath: string) {
  const ca = readFileSync(certPath);
  let agent = new https.Agent({ keepAlive: true, ca });
  connectionResets.push(() => {
    agent.destroy();
    agent = new https.Agent({ keepAlive: true, ca });
  });
  return function request(url: string, form?: URLSearchParams): Promise<Reply & { url: string }> {
    const body = form?.toString() ?? "";
    const headers: http.OutgoingHttpHeaders = form ? { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body) } : {};
    return new Promise((resolve, reject) => {
      const req = https.request(url, { agent, method: form ? "POST" : "GET", headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({ url, status: res.statusCode ?? 0, location: res.headers.location ?? "", cookie: "", body: Buffer.concat(chunks).toString("utf8") }),
        );
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  };
}

/** The stand-in's account chooser: the first POST form's absolute action and its hidden fields (as test/microsoft.ts reads it). */
function chooserForm(page: Reply & { url: string }): { action: string; fields: URLSearchParams } {
  const form = page.body.match(/<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i);
  if (!form) throw new Error(`no form on the stand-in's page (${page.status})`);
  const unescape = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
  const fields = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = input[0].match(/name="([^"]*)"/)?.[1];
    if (name) fields.set(name, unescape(input[0].match(/value="([^"]*)"/)?.[1] ?? ""));
  }
  return { action: new URL(unescape(form[1]!), page.url).toString(), fields };
}

/** A reply that is not what a working app answers: an error, with a short description. */
function unexpected(step: string, reply: Reply, wanted: string): never {
  const text = reply.body
    .replace(/<script[\s\S]*?<\/script>/g, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .slice(0, 160);
  throw new Error(`${step}: wanted ${wanted}, got ${reply.status} ${reply.location} ${text}`.trim());
}

// ---- the operations ----

type Users = { password: string[]; settingsCookies: string[]; microsoft: { email: string; upn: string }[]; secret: string };
type Sample = { kind: Kind; ms: number; finishedAt: number };
type Failure = { kind: Kind | "standin" | "unfinished" | "other"; message: string };

function operations(users: Users, app: AppRequest, origin: string, standinUrl: string, stand: ReturnType<typeof standinClient>) {
  // Password users share one TOTP secret (sealed separately), so one code per 30 s step serves them all.
  // A user's code is accepted once per step, so a user is taken again only in a later step.
  const lastStep = new Int32Array(users.password.length).fill(-1);
  let nextSignIn = 0;
  let nextLookup = 0;
  let nextSettings = 0;
  let nextMicrosoft = 0;
  let code = { step: -1, value: Promise.resolve("") };

  /** One app request, timed from `since` (its scheduled start for the first request of an operation). */
  async function timed(kind: Kind, since: number, out: Sample[], work: () => Promise<Reply>, check: (r: Reply) => boolean, wanted: string): Promise<Reply> {
    let reply: Reply;
    try {
      reply = await work();
    } catch (error) {
      throw Object.assign(error as Error, { kind });
    }
    const now = performance.now();
    if (!check(reply)) {
      try {
        unexpected(label(kind), reply, wanted);
      } catch (error) {
        throw Object.assign(error as Error, { kind });
      }
    }
    out.push({ kind, ms: now - since, finishedAt: now });
    return reply;
  }

  const ops: Record<Op, (scheduled: number, out: Sample[]) => Promise<void>> = {
    async login(scheduled, out) {
      await timed(
        "login",
        scheduled,
        out,
        () => app("GET", "/login"),
        (r) => r.status === 200 && r.body.includes('name="identifier"'),
        "200 with the identifier form",
      );
    },
    async lookup(scheduled, out) {
      const email = users.password[nextLookup++ % users.password.length]!;
      await timed(
        "lookup",
        scheduled,
        out,
        () => app("POST", "/login?index", { intent: "identifier", identifier: email }),
        (r) => r.status === 200 && r.body.includes('type="password"'),
        "200 with the password page",
      );
    },
    async settings(scheduled, out) {
      const cookie = users.settingsCookies[nextSettings++ % users.settingsCookies.length]!;
      await timed(
        "settings",
        scheduled,
        out,
        () => app("GET", "/settings", undefined, cookie),
        (r) => r.status === 200 && r.body.includes("My Profile"),
        "200 with My Profile",
      );
    },
    async signIn(scheduled, out) {
      const step = Math.floor(Date.now() / 30_000);
      if (code.step !== step) code = { step, value: generate({ secret: users.secret, epoch: step * 30 }) };
      const i = nextSignIn++ % users.password.length;
      if (lastStep[i]! >= step)
        throw Object.assign(new Error(`All ${users.password.length} users signed in within this 30 s step: run with more --users.`), { kind: "password" });
      lastStep[i] = step;
      const first = await timed(
        "password",
        scheduled,
        out,
        () => app("POST", "/login?index", { intent: "password", identifier: users.password[i]!, password: PASSWORD }),
        (r) => r.status === 302 && r.location === "/login/totp" && !!r.cookie,
        "302 /login/totp",
      );
      const value = await code.value;
      await timed(
        "totp",
        performance.now(),
        out,
        () => app("POST", "/login/totp", { code: value }, first.cookie),
        (r) => r.status === 302 && r.location === "/" && !!r.cookie,
        "302 /",
      );
    },
    async microsoft(scheduled, out) {
      const user = users.microsoft[nextMicrosoft++ % users.microsoft.length]!;
      const first = await timed(
        "msIdentifier",
        scheduled,
        out,
        () => app("POST", "/login?index", { intent: "identifier", identifier: user.email }),
        (r) => r.status === 302 && r.location.startsWith(`${standinUrl}/`) && r.cookie.startsWith("__msflow="),
        "302 to the stand-in with __msflow",
      );
      // At "Microsoft": open the account chooser, pick the account. Not app requests, so not timed as such.
      let back: string;
      try {
        const chooser = await stand(first.location);
        if (chooser.status !== 200) unexpected("stand-in authorize GET", chooser, "200");
        const { action, fields } = chooserForm(chooser);
        fields.set("login", user.upn);
        const picked = await stand(action, fields);
        if (picked.status !== 302 || !picked.location.startsWith(`${origin}/auth/microsoft/callback?`))
          unexpected("stand-in authorize POST", picked, "302 to the app's callback");
        back = picked.location;
      } catch (error) {
        throw Object.assign(error as Error, { kind: "standin" });
      }
      const { pathname, search } = new URL(back);
      await timed(
        "msCallback",
        performance.now(),
        out,
        () => app("GET", pathname + search, undefined, first.cookie),
        (r) => r.status === 302 && r.location === "/" && !!r.cookie,
        "302 / with a session cookie",
      );
    },
  };
  return ops;
}

// ---- one open-loop round ----

type RoundResult = {
  wall: number;
  samples: Sample[];
  failures: Failure[];
  started: number;
  unfinished: number;
  /** App requests answered within the round's window, per second. */
  throughput: number;
  /** How late the client started operations (its own queueing; p99, ms). */
  lateP99: number;
  maxInFlight: number;
  cpu: ReturnType<typeof cpuSpent>;
};

async function round(seconds: number, rate: number, ops: ReturnType<typeof operations>): Promise<RoundResult> {
  const next = opSequence();
  const totalOpRate = OPS.reduce((s, o) => s + opRate(o.op, rate), 0);
  const interval = 1000 / totalOpRate;
  const count = Math.floor(seconds * totalOpRate);
  const samples: Sample[] = [];
  const failures: Failure[] = [];
  const late: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let done = 0;
  const before = cpuSnapshot(server.pid);
  const start = before.at + 20;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => (allDone = resolve));

  const launch = (i: number) => {
    const scheduled = start + i * interval;
    late.push(performance.now() - scheduled);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    ops[next()](scheduled, samples)
      .catch((error: Error & { kind?: Failure["kind"] }) => failures.push({ kind: error.kind ?? "other", message: error.message }))
      .finally(() => {
        inFlight--;
        if (++done === count) allDone();
      });
  };
  await new Promise<void>((resolve) => {
    let i = 0;
    const tick = () => {
      const now = performance.now();
      while (i < count && start + i * interval <= now) launch(i++);
      if (i < count) setTimeout(tick, Math.max(0, start + i * interval - performance.now()));
      else resolve();
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  const end = start + seconds * 1000;
  await Promise.race([finished, new Promise((r) => setTimeout(r, end + DRAIN_MS - performance.now()).unref())]);
  const after = cpuSnapshot(server.pid);
  const inWindow = samples.filter((s) => s.finishedAt <= end).length;
  const unfinished = count - done;
  if (unfinished) for (const reset of connectionResets) reset();
  for (let k = 0; k < unfinished; k++)
    failures.push({ kind: "unfinished", message: `${unfinished} operations were still running ${DRAIN_MS / 1000} s after the round's last start` });
  return {
    wall: (after.at - start) / 1000,
    samples: samples.slice(), // operations that outlive the drain must not change a finished round
    failures: failures.slice(),
    started: count,
    unfinished,
    throughput: inWindow / seconds,
    lateP99: pct(
      late.sort((a, b) => a - b),
      99,
    ),
    maxInFlight,
    cpu: cpuSpent(before, after, samples.length),
  };
}

// ---- setup: build, fresh database, seeded users, the stand-in, the server ----

/** The newest modification time under `dir`, in ms. */
/**
 * A password org without SSO (password users, and the users whose sessions GET /settings), and an SSO org
 * whose users are linked to Contoso accounts added to the stand-in.
 */
async function seed(passwordUsers: number): Promise<Omit<Users, "settingsCookies"> & { settings: string[] }> {
  const { db } = await import("../app/lib/db.server.ts");
  const { newTotpSecret, sealTotpSecret } = await import("../app/lib/totp.server.ts");
  const { hashPassword } = await import("../app/lib/passwords.server.ts");
  const hash = await hashPassword(PASSWORD); // the app's own parameters, so a verify costs what it costs at sign-in
  const secret = newTotpSecret();
  const now = new Date();

  const org = await db.organization.create({ data: { name: "Bench Company", slug: "bench" } });
  const password = Array.from({ length: passwordUsers }, (_, i) => `user${i}@bench.test`);
  const settings = Array.from({ length: SETTINGS_SESSIONS }, (_, i) => `settings${i}@bench.test`);
  const all = [...password, ...settings];
  const userIds = all.map(() => randomUUID()); // known before the insert: each secret is sealed for its user
  for (let i = 0; i < all.length; i += 500) {
    await db.user.createMany({
      data: all.slice(i, i + 500).map((email, j) => ({
        id: userIds[i + j]!,
        orgId: org.id,
        email,
        name: `Bench User ${i + j}`,
        passwordHash: hash,
        totpSecret: sealTotpSecret(secret, { kind: "user", userId: userIds[i + j]! }),
        totpEnrolledAt: now,
        linkPrompt: "declined",
      })),
    });
  }

  const sso = await db.organization.create({ data: { name: "Contoso Bench", slug: "contoso-bench", ssoLicensed: true, ssoEnabled: true } });
  const integration = await db.integration.create({
    data: { orgId: sso.id, tenantId: CONTOSO.id, tenantDomain: "contoso.com", displayName: "Contoso", status: "active", consentedAt: now },
  });
  const microsoft = Array.from({ length: MICROSOFT_USERS }, (_, i) => ({ email: `bench${i}@contoso.com`, upn: `bench${i}@contoso.com`, oid: randomUUID() }));
  for (const [i, u] of microsoft.entries())
    standin!.directory.addUser(CONTOSO.id, { oid: u.oid, displayName: `Bench User ${i}`, userPrincipalName: u.upn, mail: u.email });
  await db.user.createMany({ data: microsoft.map((u, i) => ({ orgId: sso.id, email: u.email, name: `Contoso Bench User ${i}` })) });
  const ids = new Map((await db.user.findMany({ where: { orgId: sso.id }, select: { id: true, email: true } })).map((u) => [u.email, u.id]));
  await db.microsoftLink.createMany({
    data: microsoft.map((u) => ({
      userId: ids.get(u.email)!,
      integrationId: integration.id,
      tenantId: CONTOSO.id,
      objectId: u.oid,
      upn: u.upn,
      displayName: u.upn,
    })),
  });
  await db.$disconnect();
  return { password, settings, microsoft, secret };
}

/** Signed-in sessions for GET /settings, made the way people make them: password, then the TOTP code. */
async function signInForCookies(emails: string[], secret: string, app: AppRequest): Promise<string[]> {
  const step = Math.floor(Date.now() / 30_000);
  const code = await generate({ secret, epoch: step * 30 });
  const cookies: string[] = [];
  for (let i = 0; i < emails.length; i += 4) {
    const batch = await Promise.all(
      emails.slice(i, i + 4).map(async (email) => {
        const first = await app("POST", "/login?index", { intent: "password", identifier: email, password: PASSWORD });
        if (first.status !== 302 || first.location !== "/login/totp") unexpected("preparing sessions: password step", first, "302 /login/totp");
        const second = await app("POST", "/login/totp", { code }, first.cookie);
        if (second.status !== 302 || second.location !== "/" || !second.cookie) unexpected("preparing sessions: TOTP step", second, "302 /");
        return second.cookie;
      }),
    );
    cookies.push(...batch);
  }
  return cookies;
}

const f0 = (n: number) => (Number.isNaN(n) ? "—" : n.toFixed(0));
const f1 = (n: number) => (Number.isNaN(n) ? "—" : n.toFixed(1));

/** p50 and p99 of one round's samples of the given kinds. */
function latency(r: RoundResult, kinds: Kind[]): [number, number] {
  const xs = r.samples
    .filter((s) => kinds.includes(s.kind))
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  return [pct(xs, 50), pct(xs, 99)];
}

async function main() {
  const started = Date.now();
  console.log(`Machine: ${machine()}`);
  console.log(`Load average before the run: ${os.loadavg().map(f1).join(" ")}`);
  ensureBuild(Boolean(opts.build));

  standin = await startStandin({ certDir: path.join(tmp, "standin") });
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...benchEnv(tmp, port),
    NODE_EXTRA_CA_CERTS: standin.certPath,
    ENTRA_CLIENT_ID: standin.app.clientId,
    ENTRA_CLIENT_SECRET: standin.app.clientSecret,
    ENTRA_AUTHORITY_HOST: standin.url,
    GRAPH_BASE_URL: standin.url,
    WEB_CONCURRENCY: String(WORKERS),
  };
  Object.assign(process.env, env); // the seeding below imports app modules, which read the same variables
  migrate(env);

  // Enough password users that none is needed twice within one 30 s step (with room for the step boundary).
  const signInRate = opRate("signIn", RATE);
  const userCount = opts.users ? positive("users", opts.users) : Math.max(3000, Math.ceil(signInRate * 30 * 3));
  const seeded = await seed(userCount);
  await server.start(env, port, opts["cpu-prof"]);
  const app = appClient(port, origin);
  const users: Users = { ...seeded, settingsCookies: await signInForCookies(seeded.settings, seeded.secret, app) };
  const ops = operations(users, app, origin, standin.url, standinClient(standin.certPath));

  const perSecond = OPS.map((o) => `${o.op} ${f1(opRate(o.op, RATE))}`).join(", ");
  console.log(
    `Seeded ${userCount} password users, ${SETTINGS_SESSIONS} signed-in sessions, ${MICROSOFT_USERS} users linked to Contoso at the stand-in (${standin.url}).`,
  );
  console.log(`Operations/s at ${RATE} requests/s: ${perSecond}.`);

  const warm = await round(WARMUP, RATE, ops); // JIT, caches, Microsoft's keys and metadata, the first session rows
  const broken = KINDS.filter((k) => !warm.samples.some((s) => s.kind === k.kind));
  if (broken.length) {
    const first = warm.failures.find((f) => broken.some((b) => b.kind === f.kind)) ?? warm.failures[0];
    throw new Error(`No successful ${broken.map((b) => b.label).join(", ")} during the warm-up; the first error: ${first?.message ?? "none"}`);
  }
  console.log(
    `Warm-up: ${WARMUP} s, ${warm.samples.length} requests, ${warm.failures.length} errors. Now ${ROUNDS} rounds of ${SECONDS} s at ${RATE} requests/s.\n`,
  );

  const rounds: RoundResult[] = [];
  const firstErrors: string[] = [];
  const nonHashing = KINDS.filter((k) => !k.hashing).map((k) => k.kind);
  for (let r = 1; r <= ROUNDS; r++) {
    const result = await round(SECONDS, RATE, ops);
    rounds.push(result);
    for (const f of result.failures) if (firstErrors.length < 5) firstErrors.push(`[${f.kind}] ${f.message}`);
    const [p50, p99] = latency(result, nonHashing);
    console.log(
      `round ${r}: ${f1(result.throughput)} requests/s, errors ${result.failures.length}, non-hashing p50/p99 ${f1(p50)}/${f1(p99)} ms, ` +
        `password POST p99 ${f1(latency(result, ["password"])[1])} ms, server CPU ${f0(result.cpu.serverPct)}% of a core (JS thread ${f0(result.cpu.serverMainPct)}%, ${f1(result.cpu.serverMainMsPerRequest)} ms/request), ` +
        `bench ${f0(result.cpu.benchPct)}%, rest of the machine ${f0(result.cpu.foreignPct)}%, ` +
        `client late p99 ${f1(result.lateP99)} ms, max in flight ${result.maxInFlight}`,
    );
  }
  await server.stop();
  await standin.close();

  const med = (pick: (r: RoundResult) => number) => median(rounds.map(pick));
  const errors = rounds.reduce((n, r) => n + r.failures.length, 0);
  const errorsOf = (kind: Failure["kind"]) => rounds.reduce((n, r) => n + r.failures.filter((f) => f.kind === kind).length, 0);
  const throughput = med((r) => r.throughput);
  const [nhP50, nhP99] = [med((r) => latency(r, nonHashing)[0]), med((r) => latency(r, nonHashing)[1])];
  const mark = (ok: boolean) => (ok ? "✓" : "✗");
  const row = (name: string, kinds: Kind[], errs: number | string) => {
    const count = med((r) => r.samples.filter((s) => kinds.includes(s.kind)).length) / SECONDS;
    return `  ${name.padEnd(42)} ${f1(count).padStart(7)} ${f1(med((r) => latency(r, kinds)[0])).padStart(8)} ${f1(med((r) => latency(r, kinds)[1])).padStart(8)} ${String(errs).padStart(7)}`;
  };
  /** Where this mix tops out: the JavaScript threads' share, or all cores (server and load generator) together. */
  const capacity = () => {
    const jsBound = (WORKERS * 1000) / med((r) => r.cpu.serverMainMsPerRequest);
    const cpuBound = (os.cpus().length * 1000 * RATE) / (RATE * med((r) => r.cpu.serverMsPerRequest) + 10 * med((r) => r.cpu.benchPct));
    const which =
      jsBound < cpuBound
        ? `the JavaScript thread${WORKERS > 1 ? "s" : ""} of ${WORKERS} process${WORKERS > 1 ? "es" : ""}`
        : `the ${os.cpus().length} cores (server and this bench)`;
    return `this mix tops out near ${f0(Math.min(jsBound, cpuBound))} requests/s, bound by ${which}`;
  };
  console.log(`
Machine: ${machine()}
Open loop: requests start on a fixed schedule (${RATE}/s), not when earlier ones finish; a request's latency runs
from its scheduled start (the second request of a sign-in: from when the first one answered), so queueing counts.
Mix of app requests: 80% GET /login, identifier lookups and GET /settings (a third each), 15% password + TOTP
sign-ins (2 requests each), 5% Microsoft sign-ins (identifier POST + callback GET; the stand-in's requests not counted).
Medians of ${ROUNDS} rounds of ${SECONDS} s (warm-up ${WARMUP} s):

  achieved throughput                        ${f1(throughput)} requests/s   (target ${RATE}) ${mark(throughput >= RATE * 0.98)}
  errors (unexpected status, network, late)  ${errors}   (target 0) ${mark(errors === 0)}
  non-hashing requests p50 / p99             ${f1(nhP50)} / ${f1(nhP99)} ms   (target p99 < ${TARGET_P99_MS} ms at ${RATE} requests/s) ${mark(nhP99 < TARGET_P99_MS)}

Latency (ms)                                     req/s      p50      p99  errors
${KINDS.map((k) => row(k.label, [k.kind], errorsOf(k.kind))).join("\n")}
${row("non-hashing requests (all but password)", nonHashing, errors - errorsOf("password") - errorsOf("standin"))}
${row(
  "all app requests",
  KINDS.map((k) => k.kind),
  errors - errorsOf("standin"),
)}
  stand-in steps failed (bench side, in errors)                              ${String(errorsOf("standin")).padStart(7)}
  operations unfinished after the drain / other                              ${String(errorsOf("unfinished") + errorsOf("other")).padStart(7)}

Server CPU (${WORKERS} process${WORKERS > 1 ? "es" : ""}): ${f0(med((r) => r.cpu.serverPct))}% of one core (JavaScript thread${WORKERS > 1 ? "s" : ""} ${f0(med((r) => r.cpu.serverMainPct))}%, other threads: argon2, GC, I/O ${f0(med((r) => r.cpu.serverOtherPct))}%), ${f1(med((r) => r.cpu.serverMsPerRequest))} ms CPU per request
Server CPU per answered request: ${f1(med((r) => r.cpu.serverMsPerRequest))} ms, of which JavaScript threads ${f1(med((r) => r.cpu.serverMainMsPerRequest))} ms: ${capacity()}, and ${RATE} requests/s need ${f1((med((r) => r.cpu.serverMsPerRequest) * RATE) / 1000)} cores for the server alone
Bench process (client + stand-in): ${f0(med((r) => r.cpu.benchPct))}% of one core; rest of the machine ${f1(med((r) => r.cpu.foreignPct))}% of all cores; steal ${f1(med((r) => r.cpu.stealPct))}%
Client lateness p99 (how late the bench started operations) ${f1(med((r) => r.lateP99))} ms; most operations in flight ${Math.max(...rounds.map((r) => r.maxInFlight))}; requests resent after a keep-alive reset (not errors) ${keepAliveRetries}
Whole run: ${f0((Date.now() - started) / 1000)} s`);
  const foreign = med((r) => r.cpu.foreignPct);
  if (foreign > 10)
    console.log(`⚠ Other processes used ${f0(foreign)}% of the machine during the rounds: these figures understate what the app does on a quiet machine.`);
  if (firstErrors.length) console.log(`First errors:\n  ${firstErrors.join("\n  ")}`);
  process.exitCode = errors ? 1 : 0;
}

main()
  .catch((error) => {
    console.error((error as Error).message);
    if (server.output.trim()) console.error(`The server's last output:\n${server.output.trim()}`);
    process.exitCode = 1;
  })
  .finally(() => process.exit()); // keep-alive sockets would hold the process open
