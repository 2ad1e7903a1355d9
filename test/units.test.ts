import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { safeRedirectPath, isCrossSiteRequest } from "~/lib/security.server.ts";
import { parseEnv } from "~/lib/env.server.ts";
import { parseIdentifier } from "~/lib/identifier.ts";
import { decryptSecret, encryptSecret, SecretError } from "~/lib/crypto.server.ts";
import { describeDevice } from "~/lib/device.ts";
import { reusePreparedStatements } from "~/lib/db.server.ts";

describe("safeRedirectPath", () => {
  it.each(["/", "/settings", "/settings/sessions?x=1#y"])("keeps %s", (p) => expect(safeRedirectPath(p)).toBe(p));
  it.each([
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "/\u0000//evil.example",
    "/\t/evil.example",
    "",
    "x".repeat(3000),
    "settings",
  ])("drops %j", (p) => expect(safeRedirectPath(p, "/home")).toBe("/home"));
  it("drops non-strings", () => expect(safeRedirectPath(["/a"], "/")).toBe("/"));
});

describe("isCrossSiteRequest", () => {
  const app = "https://portal.example";
  const req = (method: string, headers: Record<string, string>) => new Request("https://portal.example/x", { method, headers });
  it("allows reads", () => expect(isCrossSiteRequest(req("GET", { Origin: "https://evil.example" }), app)).toBe(false));
  it("allows same-origin posts", () => expect(isCrossSiteRequest(req("POST", { Origin: app }), app)).toBe(false));
  it("refuses other origins", () => expect(isCrossSiteRequest(req("POST", { Origin: "https://evil.example" }), app)).toBe(true));
  it("refuses a sibling scheme", () => expect(isCrossSiteRequest(req("POST", { Origin: "http://portal.example" }), app)).toBe(true));
  it("refuses Origin null from a cross-site fetch", () =>
    expect(isCrossSiteRequest(req("POST", { Origin: "null", "Sec-Fetch-Site": "cross-site" }), app)).toBe(true));
  it("refuses a bare Origin null", () => expect(isCrossSiteRequest(req("POST", { Origin: "null" }), app)).toBe(true));
  it("refuses same-site but cross-origin", () => expect(isCrossSiteRequest(req("DELETE", { "Sec-Fetch-Site": "same-site" }), app)).toBe(true));
  it("refuses a request that sends neither header (13.13: a Referer alone proves nothing)", () =>
    expect(isCrossSiteRequest(req("POST", { Referer: "https://portal.example/login" }), app)).toBe(true));
});

describe("parseEnv", () => {
  const base = { SESSION_SECRET: "s".repeat(40), TOTP_ENCRYPTION_KEY: "ab".repeat(32) };
  it("fills the defaults", () => {
    const env = parseEnv({ ...base });
    expect(env.PORT).toBe(3000);
    expect(env.APP_ORIGIN).toBe("http://localhost:3000");
    expect(env.DATABASE_URL).toMatch(/^file:/);
    expect(env.SESSION_IDLE_MINUTES).toBe(30);
    expect(env.WEB_CONCURRENCY).toBe(1);
  });
  it.each([
    [{ PORT: "eighty" }, /PORT is invalid/],
    [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL is invalid/],
    [{ APP_ORIGIN: "not a url" }, /APP_ORIGIN is invalid/],
    [{ SMTP_URL: "http://mail" }, /SMTP_URL is invalid/],
    [{ TOTP_ENCRYPTION_KEY: "short" }, /TOTP_ENCRYPTION_KEY is invalid: must be 64 hexadecimal/],
    [{ SESSION_SECRET: "short" }, /SESSION_SECRET is invalid/],
    [{ WEB_CONCURRENCY: "0" }, /WEB_CONCURRENCY is invalid/],
    [{ WEB_CONCURRENCY: "two" }, /WEB_CONCURRENCY is invalid/],
    [{ WEB_CONCURRENCY: "1000" }, /WEB_CONCURRENCY is invalid/],
  ])("names the bad variable in a sentence: %j", (bad, message) => {
    expect(() => parseEnv({ ...base, ...bad })).toThrow(message);
  });
  it("requires the secrets in production", () => {
    expect(() => parseEnv({ NODE_ENV: "production", TOTP_ENCRYPTION_KEY: base.TOTP_ENCRYPTION_KEY })).toThrow(/SESSION_SECRET is missing/);
  });
});

describe("parseIdentifier", () => {
  it.each([
    ["Ada@Example.COM ", { kind: "email", value: "ada@example.com" }],
    ["+44 7911 123456", { kind: "phone", value: "+447911123456" }],
    ["(415) 555-2671", { kind: "phone", value: "+14155552671" }],
    ["0044 7911 123456", { kind: "phone", value: "+447911123456" }],
  ])("normalizes %j", (input, expected) => expect(parseIdentifier(input)).toEqual(expected));
  it.each(["", "ada@", "12", "+1 555", "a".repeat(300), "DROP TABLE", "ada@@example.com"])("refuses %j", (input) => expect(parseIdentifier(input)).toBeNull());
});

describe("secrets at rest", () => {
  const key = "11".repeat(32);
  it("round-trips and uses a fresh IV each time", () => {
    const a = encryptSecret("JBSWY3DPEHPK3PXP", "totp\nuser-1", key);
    const b = encryptSecret("JBSWY3DPEHPK3PXP", "totp\nuser-1", key);
    expect(a).not.toBe(b);
    expect(a.startsWith("v2.")).toBe(true);
    expect(decryptSecret(a, "totp\nuser-1", key)).toBe("JBSWY3DPEHPK3PXP");
  });
  it("refuses a tampered ciphertext, another context or the wrong key", () => {
    const sealed = encryptSecret("JBSWY3DPEHPK3PXP", "totp\nuser-1", key);
    const parts = sealed.split(".");
    parts[3] = parts[3]!.slice(0, -2) + (parts[3]!.endsWith("AA") ? "BB" : "AA");
    expect(() => decryptSecret(parts.join("."), "totp\nuser-1", key)).toThrow(SecretError);
    expect(() => decryptSecret(sealed, "totp\nuser-2", key)).toThrow(SecretError);
    expect(() => decryptSecret(sealed, "totp\nuser-1", "22".repeat(32))).toThrow(SecretError);
  });
});

describe("describeDevice", () => {
  it.each([
    ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1", "Safari on iOS"],
    ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0", "Edge on Windows"],
    [null, "Unknown device"],
  ])("%s", (ua, expected) => expect(describeDevice(ua)).toBe(expected));
});

describe("reusePreparedStatements", () => {
  function table() {
    const sqlite = new Database(":memory:");
    sqlite.exec("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)");
    const prepare = vi.spyOn(sqlite, "prepare");
    return { sqlite, prepare };
  }

  it("prepares a text once and runs it with each call's own arguments", () => {
    const { sqlite, prepare } = table();
    reusePreparedStatements(sqlite);
    const insert = "INSERT INTO t (k, n) VALUES (?, ?)";
    expect(sqlite.prepare(insert).bind(["a", 1]).run().changes).toBe(1);
    expect(sqlite.prepare(insert).bind(["b", 2]).run().changes).toBe(1);
    const select = "SELECT k, n FROM t WHERE n >= ? ORDER BY k";
    const stmt = sqlite.prepare(select);
    expect(stmt.reader).toBe(true);
    expect(stmt.columns().map((c) => c.name)).toEqual(["k", "n"]);
    expect(sqlite.prepare(select).bind([2]).raw().all()).toEqual([["b", 2]]);
    expect(sqlite.prepare(select).bind([1]).raw().all()).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
    expect(prepare).toHaveBeenCalledTimes(2);
  });

  it("binds once per call, like a fresh statement", () => {
    const { sqlite } = table();
    reusePreparedStatements(sqlite);
    const bound = sqlite.prepare("SELECT ?").bind([1]);
    expect(() => bound.bind([2])).toThrow(TypeError);
  });

  it("keeps a bounded number of texts", () => {
    const { sqlite, prepare } = table();
    reusePreparedStatements(sqlite, 2);
    for (const sql of ["SELECT 1", "SELECT 2", "SELECT 3", "SELECT 3", "SELECT 1"]) sqlite.prepare(sql).bind([]).raw().all();
    expect(prepare).toHaveBeenCalledTimes(4);
  });
});
