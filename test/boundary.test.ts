// The HTTP boundary (issue 13: 13.1, 13.4, 13.5, 13.13), tested the way an attacker sends requests: hostile
// redirect targets through every place that redirects to input, bodies too large to be a form, forged
// X-Forwarded-For, and forms without Origin. Against the built server process, over real HTTP.
import http from "node:http";
import net from "node:net";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { parseEnv } from "~/lib/env.server.ts";
import { safeRedirectPath } from "~/lib/security.server.ts";
import { createUser, PASSWORD, totpCode } from "./helpers.ts";
import { useStandin } from "./microsoft.ts";
import { appEnv, ensureBuild, freePort, Instance, Jar } from "./processes.ts";

const SITE = "https://portal.example.test";

/** Whether a browser that gets `path` as a Location (or a link) stays on this site. */
function staysOnSite(path: string): boolean {
  if (!path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return false;
  // Browsers strip tabs and newlines from URLs and read "\" as "/": neither may be left in the path.
  if (/[\u0000-\u001f\u007f\\]/.test(path)) return false;
  return new URL(path, SITE).origin === SITE;
}

// Targets an attacker puts into ?redirectTo=…: each must fall back or stay a path on the site.
const HOSTILE = [
  "//evil.example",
  "///evil.example",
  "/\\evil.example",
  "\\\\evil.example",
  "/\\/evil.example",
  "/.//evil.example",
  "/./\\evil.example",
  "/././/evil.example",
  "/a/..//evil.example",
  "/a/b/../..//evil.example",
  "/..//evil.example",
  "/%2e//evil.example",
  "/%2E//evil.example",
  "/%2e%2e//evil.example",
  "/x/%2e%2e//evil.example",
  "/x/.%2e//evil.example",
  "/x/%2e./%2fevil.example",
  "/%252e//evil.example",
  "/%25252e%25252e//evil.example",
  "/%2f/evil.example",
  "/%5c/evil.example",
  "/\t/evil.example",
  "/\n/evil.example",
  "/\r/evil.example",
  "/\r\n/evil.example",
  "/.\t//evil.example",
  "/\t.//evil.example",
  "\t//evil.example",
  " //evil.example",
  "/\u0000/evil.example",
  "/\u000b/evil.example",
  "/\u007f/evil.example",
  "https://evil.example/",
  "HTTPS://evil.example",
  "http:evil.example",
  "http:/evil.example",
  "javascript:alert(1)",
  "JaVaScRiPt:alert(1)",
  " javascript:alert(1)",
  "/javascript:alert(1)",
  "data:text/html,<script>alert(1)</script>",
  "//user@evil.example",
  "//localhost:3000@evil.example",
  "/@evil.example",
  "https://portal.example.test@evil.example/",
  "/\uff0f/evil.example",
  "/\u3002/evil.example",
  "/?//evil.example",
  "/#//evil.example",
  "x".repeat(3000),
];

describe("13.1 open redirect: safeRedirectPath", () => {
  it.each(HOSTILE.map((t) => [JSON.stringify(t).slice(0, 60), t]))("13.1 open redirect: %s stays on the site", (_label, target) => {
    const out = safeRedirectPath(target, "/fallback");
    expect(staysOnSite(out), `${JSON.stringify(target)} gave ${JSON.stringify(out)}`).toBe(true);
  });

  it("13.1 open redirect: dot segments that collapse into //host fall back instead", () => {
    for (const target of ["/.//evil.example", "/%2e//evil.example", "/a/..//evil.example", "/x/%2e%2e//evil.example", "/.\t//evil.example"]) {
      expect(safeRedirectPath(target, "/fallback"), JSON.stringify(target)).toBe("/fallback");
    }
  });

  it("13.1 open redirect: keeps the paths of this site with their query and fragment", () => {
    for (const target of ["/", "/settings", "/settings/sessions?x=1#y", "/link-microsoft?redirectTo=%2Fsettings", "/a/../settings"]) {
      expect(staysOnSite(safeRedirectPath(target, "/fallback"))).toBe(true);
    }
    expect(safeRedirectPath("/settings/sessions?x=1#y")).toBe("/settings/sessions?x=1#y");
    expect(safeRedirectPath("/a/../settings")).toBe("/settings");
  });

  // Strings built from the pieces that make URL parsers disagree, and arbitrary strings.
  const piece = fc.constantFrom(
    "/",
    "//",
    "\\",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2f",
    "%5c",
    "%25",
    "%",
    "\t",
    "\n",
    "\r",
    " ",
    "\u0000",
    "@",
    ":",
    "?",
    "#",
    "evil.example",
    "http:",
    "javascript:",
    "a",
    "\u3002",
    "\uff0f",
  );
  const hostile = fc.oneof(
    fc.array(piece, { maxLength: 12 }).map((parts) => `/${parts.join("")}`),
    fc.array(piece, { maxLength: 12 }).map((parts) => parts.join("")),
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.webUrl(),
  );

  it("13.1 open redirect: whatever string goes in, a same-site path comes out (property)", () => {
    fc.assert(
      fc.property(hostile, fc.constantFrom("/", "/settings", ""), (target, fallback) => {
        const out = safeRedirectPath(target, fallback);
        return out === fallback || staysOnSite(out);
      }),
      { numRuns: 5000 },
    );
  });

  it("13.1 open redirect: a path it gave back passes again unchanged (the next step of a flow checks it again)", () => {
    fc.assert(
      fc.property(hostile, (target) => {
        const out = safeRedirectPath(target, "/fallback");
        return safeRedirectPath(out, "/other") === out;
      }),
      { numRuns: 5000 },
    );
  });
});

type Raw = { status: number; headers: http.IncomingHttpHeaders; body: string };

/** One request with exactly the headers given (and Host), as an attacker's client sends it. */
function raw(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const all: http.OutgoingHttpHeaders = { Host: new URL(process.env.APP_ORIGIN!).host, ...headers };
    if (body !== undefined) all["Content-Length"] = Buffer.byteLength(body);
    const req = http.request({ host: "127.0.0.1", port, path, method, headers: all, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const production = (extra: Record<string, string> = {}) =>
  appEnv({ NODE_ENV: "production", SMTP_URL: "", DEMO_MODE: "false", TRUST_PROXY: "false", SYNC_INTERVAL_MINUTES: "0", ...extra });

async function startServer(extra: Record<string, string> = {}) {
  const server = new Instance(await freePort());
  server.start(production(extra));
  await server.ready();
  return server;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
const origin = () => process.env.APP_ORIGIN!;

/** The redirectTo parameter of a Location or a link, decoded as the next route reads it. */
const redirectParam = (location: string) => new URL(location, SITE).searchParams.get("redirectTo");

function hiddenRedirectTo(html: string): string[] {
  return [...html.matchAll(/name="redirectTo" value="([^"]*)"/g)].map((m) =>
    m[1]!.replaceAll("&amp;", "&").replaceAll("&quot;", '"').replaceAll("&#x27;", "'"),
  );
}

describe("over HTTP, the built server", () => {
  const standin = useStandin();
  let server: Instance;
  beforeAll(async () => {
    ensureBuild();
    server = await startServer();
  }, 180_000);
  afterAll(() => server?.stop());

  it("13.1 open redirect: every place that redirects to input keeps a hostile target on the site", async () => {
    expect(standin.current.url).toMatch(/^https:/);
    const check = (where: string, value: string | null | undefined, target: string) => {
      expect(value, `${where} for ${JSON.stringify(target)}`).toBeTypeOf("string");
      expect(staysOnSite(value!), `${where} for ${JSON.stringify(target)} gave ${JSON.stringify(value)}`).toBe(true);
    };
    const q = (target: string) => encodeURIComponent(target);
    for (const target of HOSTILE.filter((t) => t.length < 100)) {
      const { user, secret } = await createUser();
      const jar = new Jar();

      // Signed out: the prompt sends the victim to sign in, keeping the target for afterwards.
      const out = await server.request("GET", `/link-microsoft?redirectTo=${q(target)}`);
      expect(out.status).toBe(302);
      check("signed-out /link-microsoft → /login", out.location, target);
      check("its redirectTo", redirectParam(out.location), target);
      const page = await server.request("GET", out.location);
      // An empty value means "no target": the page then goes home.
      for (const value of hiddenRedirectTo(page.body)) if (value) check("the login page's hidden redirectTo", value, target);
      const login = await server.request("GET", `/login?redirectTo=${q(target)}`);
      for (const value of hiddenRedirectTo(login.body)) if (value) check("/login's hidden redirectTo", value, target);

      // Password (with the target as the form sends it), then the code (with the target in the URL).
      const password = jar.store(
        await server.request("POST", "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD, redirectTo: target }),
      );
      expect(password.location).toMatch(/^\/login\/totp/);
      check("/login → /login/totp", password.location, target);
      const back = redirectParam(password.location);
      if (back !== null) check("/login/totp's redirectTo", back, target);
      const code = jar.store(await server.request("POST", `/login/totp?redirectTo=${q(target)}`, { code: await totpCode(secret) }, jar.header));
      expect(code.status, code.body.slice(0, 300)).toBe(302);
      check("/login/totp → next", code.location, target);

      // Signed in: the link prompt (not offered: no SSO) and its "Not now".
      const prompt = await server.request("GET", `/link-microsoft?redirectTo=${q(target)}`, undefined, jar.header);
      expect(prompt.status).toBe(302);
      check("/link-microsoft's redirect", prompt.location, target);
      const later = await server.request("POST", "/link-microsoft", { intent: "later", redirectTo: target }, jar.header);
      check("/link-microsoft's Not now", later.location, target);

      // Step-up: just signed in, so the page sends the user straight on; the form's answer does too.
      const confirm = await server.request("GET", `/settings/confirm?redirectTo=${q(target)}`, undefined, jar.header);
      expect(confirm.status).toBe(302);
      check("/settings/confirm's redirect", confirm.location, target);
      const confirmed = await server.request(
        "POST",
        `/settings/confirm?redirectTo=${q(target)}`,
        { intent: "password", password: PASSWORD, code: await totpCode(secret, 1) },
        jar.header,
      );
      expect(confirmed.status, confirmed.body.slice(0, 300)).toBe(302);
      check("/settings/confirm's answer", confirmed.location, target);

      // "Sign in with Microsoft": where the flow returns to after Microsoft is kept with its state.
      const microsoft = await server.request("POST", "/auth/microsoft", { redirectTo: target });
      expect(microsoft.location).toMatch(/^https:/);
      const states = await db.oneTimeToken.findMany({ where: { type: "oauth_state" } });
      for (const state of states) check("the Microsoft flow's returnTo", (JSON.parse(state.data!) as { returnTo: string }).returnTo, target);
      await db.oneTimeToken.deleteMany({ where: { type: "oauth_state" } });
    }
  }, 180_000);

  it("13.13 cross-site: a POST with neither Origin nor Sec-Fetch-Site is refused with the page", async () => {
    const fields = form({ intent: "identifier", identifier: "someone@example.test" });
    const refusals: Record<string, string>[] = [
      {},
      { Referer: "https://evil.example/attack" },
      { Referer: `${origin()}/login` },
      { Origin: "null" },
      { Origin: "null", "Sec-Fetch-Site": "same-origin" },
      { Origin: "https://evil.example", "Sec-Fetch-Site": "same-origin" },
      { Origin: origin().replace("http:", "https:") },
      { "Sec-Fetch-Site": "cross-site" },
      { "Sec-Fetch-Site": "same-site" },
    ];
    for (const headers of refusals) {
      const r = await raw(server.port, "POST", "/login?index", { ...FORM, ...headers }, fields);
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(r.headers["content-type"]).toMatch(/^text\/html/);
      expect(r.body).toContain("another site");
      expect(r.body).toContain('href="/"');
    }
    // Other methods change state too; reads never need the headers.
    for (const method of ["PUT", "DELETE", "PATCH"]) expect((await raw(server.port, method, "/login?index", FORM, fields)).status, method).toBe(403);
    expect((await raw(server.port, "GET", "/login")).status).toBe(200);
    // What browsers send on the portal's own forms is accepted.
    const accepted: Record<string, string>[] = [
      { Origin: origin() },
      { "Sec-Fetch-Site": "same-origin" },
      { Origin: origin(), Referer: "https://evil.example/" },
    ];
    for (const headers of accepted) {
      const r = await raw(server.port, "POST", "/login?index", { ...FORM, ...headers }, fields);
      expect(r.status, JSON.stringify(headers)).toBe(200);
    }
  });

  it("13.4 body limit: a Content-Length over the limit gets 413 and the page at once, before the body is sent", async () => {
    const reply = await new Promise<Raw>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: server.port,
          path: "/login?index",
          method: "POST",
          agent: false,
          headers: { ...FORM, Host: new URL(origin()).host, Origin: origin(), "Content-Length": String(150 * 2 ** 20) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        },
      );
      req.on("error", reject);
      // Only the headers and a first piece: the answer must come without the other 150 MB.
      req.write("intent=identifier&identifier=");
    });
    expect(reply.status).toBe(413);
    expect(reply.headers["content-type"]).toMatch(/^text\/html/);
    expect(reply.body).toContain("too large");
    expect(reply.body).toContain('href="/"');
  });

  it("13.4 body limit: a chunked body (no Content-Length) is cut off with 413 once past the limit, and memory stays flat", async () => {
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.server!.pid}/status`, "utf8"))![1]) * 1024;
    const before = rss();
    const sent = await sendChunked(server.port, 100 * 2 ** 20);
    expect(sent.reply.status).toBe(413);
    expect(sent.reply.body).toContain("too large");
    expect(rss() - before).toBeLessThan(50 * 2 ** 20);
    // A client that ignores the answer and keeps sending is read and dropped for a moment, then cut off.
    const stubborn = await sendStubborn(server.port, 100 * 2 ** 20);
    expect(stubborn.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(rss() - before).toBeLessThan(50 * 2 ** 20);
    console.log(
      `13.4: the polite client wrote ${(sent.written / 2 ** 20).toFixed(1)} MiB, the stubborn one ${(stubborn.written / 2 ** 20).toFixed(1)} MiB; server RSS +${((rss() - before) / 2 ** 20).toFixed(1)} MiB`,
    );
    // The server kept working.
    expect((await server.request("GET", "/login")).status).toBe(200);
  }, 60_000);

  it("13.4 body limit: forms of ordinary size still work, up to the limit", async () => {
    const { user } = await createUser();
    const ok = await server.request("POST", "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    expect(ok.location).toBe("/login/totp");
    // A long field just under 64 KiB reaches the form's own check (a clear 400), not the boundary.
    const big = await server.request("POST", "/login?index", { intent: "identifier", identifier: "a".repeat(60_000) });
    expect(big.status).toBe(400);
    expect(big.body).toContain("too long");
    const over = await server.request("POST", "/login?index", { intent: "identifier", identifier: "a".repeat(70_000) });
    expect(over.status).toBe(413);
  });
});

/** Sends `total` bytes as a chunked form body, all of them even after the answer, unless the server cuts it off. */
function sendChunked(port: number, total: number): Promise<{ reply: Raw; written: number }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let reply: Raw | undefined;
    let stopped = false;
    const finish = () => reply && stopped && resolve({ reply, written });
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: "/login?index",
        method: "POST",
        agent: false,
        headers: { ...FORM, Host: new URL(origin()).host, Origin: origin(), "Transfer-Encoding": "chunked" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          reply = { status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") };
          finish();
        });
      },
    );
    // Once the server has closed the connection, writes fail: that is the point, once it has answered.
    req.on("error", (error) => {
      stopped = true;
      if (reply) finish();
      else setTimeout(() => (reply ? finish() : reject(error)), 1000);
    });
    req.on("close", () => {
      stopped = true;
      finish();
    });
    const chunk = Buffer.alloc(64 * 1024, "a");
    req.write("intent=identifier&identifier=");
    const pump = () => {
      while (!stopped && written < total) {
        written += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!stopped) req.end(() => ((stopped = true), finish()));
    };
    pump();
  });
}

/** Writes a chunked body of `total` bytes on a bare socket whatever the server answers, until it closes. */
function sendStubborn(port: number, total: number): Promise<{ answer: string; written: number }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    let answer = "";
    let written = 0;
    socket.on("data", (c: Buffer) => (answer += c.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => resolve({ answer, written }));
    const chunk = Buffer.concat([Buffer.from(`10000\r\n`), Buffer.alloc(0x10000, "a"), Buffer.from("\r\n")]);
    socket.write(
      `POST /login?index HTTP/1.1\r\nHost: ${new URL(origin()).host}\r\nOrigin: ${origin()}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const pump = () => {
      while (!socket.destroyed && written < total) {
        written += 0x10000;
        if (!socket.write(chunk)) return void socket.once("drain", pump);
      }
      if (!socket.destroyed) socket.end("0\r\n\r\n");
    };
    pump();
  });
}

describe("13.5 TRUST_PROXY", () => {
  it("13.5 trust proxy: `true` is refused at boot with a sentence saying what to write instead", () => {
    expect(() => parseEnv({ TRUST_PROXY: "true" })).toThrow(/TRUST_PROXY.*(number of proxies|hop).*addresses/);
    for (const wrong of ["yes", "-1", "1.5", "10.0.0.0/33", "not-an-address", "0.0.0.0/0", "::/0", "10.0.0.1, ", "loopback,evil"]) {
      expect(() => parseEnv({ TRUST_PROXY: wrong }), wrong).toThrow(/The environment variable TRUST_PROXY is invalid/);
    }
    expect(parseEnv({}).TRUST_PROXY).toBe(false);
    expect(parseEnv({ TRUST_PROXY: "false" }).TRUST_PROXY).toBe(false);
    expect(parseEnv({ TRUST_PROXY: "1" }).TRUST_PROXY).toBe(1);
    expect(parseEnv({ TRUST_PROXY: "10.0.0.0/8, loopback , 2001:db8::/32,192.0.2.1" }).TRUST_PROXY).toEqual([
      "10.0.0.0/8",
      "loopback",
      "2001:db8::/32",
      "192.0.2.1",
    ]);
  });

  const addressOfSignIn = async (server: Instance, forwarded: string | undefined) => {
    const { user } = await createUser();
    const headers: Record<string, string> = { ...FORM, Origin: origin(), ...(forwarded ? { "X-Forwarded-For": forwarded } : {}) };
    const r = await raw(server.port, "POST", "/login?index", headers, form({ intent: "password", identifier: user.email!, password: PASSWORD }));
    expect(r.headers.location).toBe("/login/totp");
    const session = await db.session.findFirstOrThrow({ where: { userId: user.id } });
    const failed = await raw(server.port, "POST", "/login?index", headers, form({ intent: "password", identifier: user.email!, password: "wrong password" }));
    expect(failed.status).toBe(400);
    const audit = await db.auditEvent.findFirst({ where: { actorId: user.id, result: "failure" } });
    expect(audit?.ipAddress).toBe(session.ipAddress);
    return session.ipAddress;
  };

  // The server listens on all interfaces: a connection from 127.0.0.1 may show as ::ffff:127.0.0.1.
  const PEER = /^(::ffff:)?127\.0\.0\.1$/;
  it.each([
    ["1", "198.51.100.66, 203.0.113.9", "203.0.113.9"],
    ["loopback, 10.0.0.0/8", "198.51.100.66, 203.0.113.9, 10.1.2.3", "203.0.113.9"],
    ["10.0.0.0/8", "198.51.100.66, 203.0.113.9", PEER],
    ["false", "198.51.100.66, 203.0.113.9", PEER],
  ])(
    "13.5 trust proxy: TRUST_PROXY=%s with X-Forwarded-For %s gives the client address %s, never the client's own forgery",
    async (trust, forwarded, expected) => {
      ensureBuild();
      const server = await startServer({ TRUST_PROXY: trust });
      try {
        const address = await addressOfSignIn(server, forwarded);
        if (typeof expected === "string") expect(address).toBe(expected);
        else expect(address).toMatch(expected);
        // Without the header, the address is the connection's own.
        expect(await addressOfSignIn(server, undefined)).toMatch(PEER);
      } finally {
        await server.stop();
      }
    },
    60_000,
  );
});
