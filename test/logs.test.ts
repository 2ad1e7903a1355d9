// The built server's log (issue 15, decision 022): one JSON line per request with its id, route, status and
// duration, the user and org once known; nothing a person types or holds in any line; a 404 is one line.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "~/lib/env.server.ts";
import { issueToken } from "~/lib/tokens.server.ts";
import { createUser, PASSWORD, totpCode } from "./helpers.ts";
import { LoggedPortal } from "./operations.ts";
import { ensureBuild, Jar, signIn } from "./processes.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("the request log of the built server", () => {
  let portal: LoggedPortal;
  // TRUST_PROXY: the tests speak as the proxy in front, whose X-Request-Id is taken.
  beforeAll(async () => {
    ensureBuild();
    portal = await LoggedPortal.start({ TRUST_PROXY: "loopback" });
  }, 180_000);
  afterAll(() => portal?.stop());

  it("writes one JSON line per request: id, method, path, route, status, duration, and the user and org once signed in", async () => {
    const { user, secret } = await createUser({ email: "ada@example.test" });
    const jar = new Jar();
    await signIn(portal.instance, jar, user.email!, secret);
    const settings = await portal.instance.request("GET", "/settings", undefined, jar.header);
    expect(settings.status).toBe(200);

    const [password] = await portal.requestLines("/login");
    expect(password).toMatchObject({ method: "POST", path: "/login", route: "routes/login._index", status: 302, userId: user.id, orgId: user.orgId });
    expect(password!.requestId).toMatch(UUID);
    expect(typeof password!.durationMs).toBe("number");
    expect(password!.durationMs).toBeGreaterThan(0);
    const [page] = await portal.requestLines("/settings");
    expect(page).toMatchObject({ method: "GET", route: "routes/settings._index", status: 200, userId: user.id, orgId: user.orgId, level: 30 });
    expect(page!.requestId).toBe(settings.headers["x-request-id"]);
    // Every stdout line is JSON, the start-up sentence included.
    expect(portal.lines().map((line) => line.msg)).toContain(`Portal listening on ${process.env.APP_ORIGIN} (port ${portal.port})`);
  });

  it("takes a well-formed X-Request-Id from the trusted proxy and replaces one that is not", async () => {
    const given = await portal.fetch("/login?from=proxy", { "X-Request-Id": "lb-7f3a:42" });
    expect(given.headers.get("x-request-id")).toBe("lb-7f3a:42");
    const odd = await portal.fetch("/login?from=odd", { "X-Request-Id": "two words\u00e9" + "x".repeat(200) });
    expect(odd.headers.get("x-request-id")).toMatch(UUID);
    const lines = await portal.requestLines("/login", 3);
    expect(lines.map((line) => line.requestId)).toContain("lb-7f3a:42");
    expect(lines.map((line) => line.requestId)).toContain(odd.headers.get("x-request-id"));
  });

  it("never writes a password, a code, a token, a TOTP key or a cookie, after a sign-in, a reset link and a wrong code", async () => {
    const before = portal.stdout.length;
    const { user, secret } = await createUser({ email: "grace@example.test" });
    const jar = new Jar();
    await signIn(portal.instance, jar, user.email!, secret);
    const usedCode = await totpCode(secret);

    const token = await issueToken("password_reset", user.id, 30);
    const reset = await portal.instance.request("GET", `/reset-password?token=${encodeURIComponent(token)}`);
    expect(reset.status).toBe(200);

    const other = await createUser({ email: "linus@example.test" });
    const second = new Jar();
    second.store(await portal.instance.request("POST", "/login?index", { intent: "password", identifier: other.user.email!, password: PASSWORD }));
    const wrongCode = String((Number(await totpCode(other.secret)) + 1) % 1_000_000).padStart(6, "0");
    const wrong = await portal.instance.request("POST", "/login/totp", { code: wrongCode }, second.header);
    expect(wrong.status).toBe(400);
    const wrongPassword = "not the password at all";
    await portal.instance.request("POST", "/login?index", { intent: "password", identifier: user.email!, password: wrongPassword });
    await portal.requestLines("/login/totp", 2);

    const written = portal.stdout.slice(before) + portal.stderr;
    const cookieValues = [...jar.cookies.values(), ...second.cookies.values()];
    expect(cookieValues.length).toBeGreaterThan(1);
    for (const secretValue of [PASSWORD, wrongPassword, usedCode, wrongCode, token, encodeURIComponent(token), secret, other.secret, ...cookieValues]) {
      expect(written, `the log holds ${secretValue}`).not.toContain(secretValue);
    }
    expect(written).not.toMatch(/token=|Set-Cookie|cookie/i);
    // The reset link's line has its path, not its query.
    expect((await portal.requestLines("/reset-password"))[0]).toMatchObject({ route: "routes/reset-password", status: 200 });
  });

  it("answers /favicon.ico and other unknown URLs 404 with one info line and no stack", async () => {
    const before = portal.lines().length;
    expect((await portal.fetch("/favicon.ico")).status).toBe(404);
    expect((await portal.fetch("/no/such/page?x=1")).status).toBe(404);
    await portal.requestLines("/no/such/page");
    // Lines of earlier requests may still arrive; nothing else may.
    const written = portal
      .lines()
      .slice(before)
      .filter((line) => line.msg !== "request" || /^\/(favicon|no\/)/.test(String(line.path)));
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({ level: 30, msg: "request", path: "/favicon.ico", status: 404 });
    expect(written[0]!.route).toBeUndefined();
    expect(portal.stdout + portal.stderr).not.toMatch(/No route matches|\n\s+at /);
  });
});

describe("LOG_LEVEL and METRICS_TOKEN", () => {
  const base = { ...process.env };
  it("are checked at boot with a sentence naming the variable", () => {
    expect(() => parseEnv({ ...base, LOG_LEVEL: "loud" })).toThrow(
      /^The environment variable LOG_LEVEL is invalid: must be one of fatal, error, warn, info, debug, trace, silent\.$/,
    );
    expect(() => parseEnv({ ...base, METRICS_TOKEN: "short" })).toThrow(/^The environment variable METRICS_TOKEN is invalid: must be at least 32 characters/);
    expect(parseEnv({ ...base, LOG_LEVEL: " Debug " }).LOG_LEVEL).toBe("debug");
    expect(parseEnv({ ...base, LOG_LEVEL: "" }).LOG_LEVEL).toBe("info");
  });
});
