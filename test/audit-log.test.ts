// The audit log as a tool (issue 15): sentences, filters, cursor pages, streamed export, one org only.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";
import { audit } from "~/lib/audit.server.ts";
import { AUDIT_PAGE_SIZE } from "~/lib/audit-log.server.ts";
import { csvCell } from "~/lib/csv.ts";
import { describeEvent, KNOWN_ACTIONS } from "~/lib/audit-sentences.ts";
import * as auditPage from "~/routes/admin.audit.tsx";
import * as auditExport from "~/routes/admin.audit_.export.tsx";
import * as login from "~/routes/login._index.tsx";
import * as totp from "~/routes/login.totp.tsx";
import { Browser, createOrg, createUser, PASSWORD, signedInAs, totpCode } from "./helpers.ts";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === "generated" ? [] : sourceFiles(full);
    return /\.tsx?$/.test(name) ? [full] : [];
  });
}

async function orgWithAdmin() {
  const org = await createOrg("Audited");
  const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
  return { org, admin, browser: await signedInAs(admin) };
}

const page = (b: Browser, query = "") => b.get(auditPage.loader as never, `/admin/audit${query}`);

describe("audit sentences", () => {
  it("has a sentence for every action the code writes", () => {
    const written = new Set<string>();
    for (const file of sourceFiles(path.resolve("app"))) {
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (!/action|fail\(/.test(line)) continue;
        for (const [, name] of line.matchAll(/"([a-z_]+(?:\.[a-z_]+)+)"/g)) if (!name!.includes("server") && !name!.endsWith(".ts")) written.add(name!);
      }
    }
    // Built from parts in the code: org.{sso,sso_all_synced}.{enabled,disabled} and user.sso.{enabled,disabled}.
    for (const part of ["sso", "sso_all_synced"]) for (const state of ["enabled", "disabled"]) written.add(`org.${part}.${state}`);
    for (const state of ["enabled", "disabled"]) written.add(`user.sso.${state}`);
    const actions = [...written].filter(
      (a) =>
        /^(signin|signout|sessions|password|set_password|totp|recovery_codes|reauth|link|invitation|user|org|integration|sync|audit|app)\./.test(a) ||
        a === "signout",
    );
    expect(actions.length).toBeGreaterThan(40);
    expect(actions.filter((a) => !KNOWN_ACTIONS.includes(a))).toEqual([]);
  });

  it("reads who did what to whom, and never says 'undefined'", () => {
    const base = { result: "success", detail: {}, actor: "Ana Admin", target: "Bob Jones" };
    expect(describeEvent({ ...base, action: "link.revoked" })).toBe("Ana Admin revoked Bob Jones's Microsoft link.");
    expect(describeEvent({ ...base, action: "signin.succeeded", detail: { method: "password_totp" }, target: null })).toBe(
      "Ana Admin signed in with password and authenticator code.",
    );
    expect(describeEvent({ ...base, action: "sync.run.started", actor: null, target: null, detail: { tenantId: "t-1" } })).toBe(
      "The sync schedule started a sync from t-1.",
    );
    for (const action of KNOWN_ACTIONS) {
      for (const result of ["success", "failure"]) {
        const text = describeEvent({ action, result, detail: {}, actor: null, target: null });
        expect(text, action).toMatch(/^[A-Z].*\.$/);
        expect(text, action).not.toMatch(/undefined|null|\[object/);
      }
    }
  });
});

describe("the audit log page", () => {
  it("shows each event as a sentence with the address and device it came from", async () => {
    const { org, browser } = await orgWithAdmin();
    const { user, secret } = await createUser({ orgId: org.id });
    const b = new Browser("198.51.100.60");
    await b.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: "wrong" });
    await b.post(login.action, "/login?index", { intent: "password", identifier: user.email!, password: PASSWORD });
    await b.post(totp.action, "/login/totp", { code: await totpCode(secret) });
    const r = await page(browser);
    expect(r.status).toBe(200);
    const [signedIn, failed] = r.data.rows;
    expect(signedIn).toMatchObject({
      sentence: `${user.name} signed in with password and authenticator code.`,
      address: "198.51.100.60",
      device: "Chrome on Linux",
    });
    expect(failed).toMatchObject({ sentence: `${user.name} entered a wrong password (failed attempt 1).`, result: "failure" });
  });

  it("filters by event type, actor, affected user and dates; a name that matches nobody says so", async () => {
    const { org, admin, browser } = await orgWithAdmin();
    const { user: bob } = await createUser({ orgId: org.id });
    await audit({ action: "link.revoked", orgId: org.id, actorId: admin.id, targetType: "user", targetId: bob.id });
    await audit({ action: "signin.succeeded", orgId: org.id, actorId: bob.id, detail: { method: "microsoft" } });
    await audit({ action: "password.changed", orgId: org.id, actorId: admin.id });
    const old = await db.auditEvent.create({ data: { orgId: org.id, action: "signout", actorId: bob.id, createdAt: new Date("2026-01-15T12:00:00Z") } });
    const actions = async (query: string) => (await page(browser, query)).data.rows.map((r: { action: string }) => r.action);

    expect(await actions("?type=link")).toEqual(["link.revoked"]);
    expect(await actions("?type=signin.succeeded")).toEqual(["signin.succeeded"]);
    expect(await actions(`?actor=${encodeURIComponent(admin.email!)}`)).toEqual(["password.changed", "link.revoked"]);
    expect(await actions(`?user=${encodeURIComponent(bob.name)}`)).toEqual(["signin.succeeded", "link.revoked", "signout"]);
    expect(await actions("?from=2026-01-15&to=2026-01-15")).toEqual(["signout"]);
    expect((await page(browser, "?to=2026-01-14")).data.rows).toEqual([]);
    const nobody = await page(browser, "?actor=nobody-at-all");
    expect([nobody.data.rows, nobody.data.notice]).toEqual([[], "No user of your organization matches the “Who” search."]);
    expect(old.id).toBeTruthy();
  });

  it("refuses a bad filter with a sentence beside the field, keeps what was typed and changes nothing", async () => {
    const { browser } = await orgWithAdmin();
    const before = await db.auditEvent.count();
    for (const [query, field, message] of [
      ["?from=2026-13-45", "from", "not a date"],
      ["?from=yesterday", "from", "YYYY-MM-DD"],
      ["?from=2026-03-02&to=2026-03-01", "to", "start date is after the end date"],
      ["?type=drop.table", "type", "Choose an event type"],
      [`?actor=${"x".repeat(150)}`, "actor", "at most 100"],
    ] as const) {
      const r = await page(browser, query);
      expect(r.status, query).toBe(400);
      expect(r.data.errors[field], query).toContain(message);
      expect(r.data.rows).toEqual([]);
    }
    expect((await page(browser, "?from=yesterday")).data.filter.from).toBe("yesterday");
    expect(await db.auditEvent.count()).toBe(before);
  });

  it("walks every event exactly once through its pages, even when many share one timestamp", async () => {
    const { org, admin, browser } = await orgWithAdmin();
    const at = new Date("2026-06-01T08:00:00Z");
    await db.auditEvent.createMany({
      data: Array.from({ length: 2 * AUDIT_PAGE_SIZE + 7 }, () => ({ orgId: org.id, action: "signout", actorId: admin.id, createdAt: at })),
    });
    const seen: string[] = [];
    let query = "";
    for (let pages = 0; pages < 10; pages++) {
      const r = await page(browser, query);
      seen.push(...r.data.rows.map((row: { id: string }) => row.id));
      if (!r.data.next) break;
      query = `?cursor=${r.data.next}`;
    }
    expect(seen).toHaveLength(2 * AUDIT_PAGE_SIZE + 7);
    expect(new Set(seen).size).toBe(seen.length);
    expect((await page(browser, "?cursor=not-a-cursor")).data.notice).toMatch(/no longer valid/);
  });

  it("shows nothing of another organization", async () => {
    const { browser } = await orgWithAdmin();
    const other = await createOrg("Other");
    const { user: theirs } = await createUser({ orgId: other.id });
    await audit({ action: "signin.succeeded", orgId: other.id, actorId: theirs.id, detail: { method: "microsoft" } });
    expect((await page(browser)).data.rows).toEqual([]);
    expect((await page(browser, `?user=${encodeURIComponent(theirs.email!)}`)).data.notice).toMatch(/No user of your organization/);
  });
});

describe("the audit log export", () => {
  /** RFC 4180, as a spreadsheet reads it: quoted cells may hold commas, quotes ("") and line breaks. */
  function parseCsv(text: string): string[][] {
    const rows: string[][] = [];
    const cells = /("(?:[^"]|"")*"|[^,\r\n]*)(,|\r\n|$)/g;
    let row: string[] = [];
    for (const match of text.matchAll(cells)) {
      const [, raw, end] = match;
      row.push(raw!.startsWith('"') ? raw!.slice(1, -1).replace(/""/g, '"') : raw!);
      if (end !== ",") {
        rows.push(row);
        row = [];
      }
      if (end === "") break;
    }
    return rows.filter((r) => r.length > 1 || r[0] !== "");
  }

  it("exports the filtered events as CSV that spreadsheets cannot run, and records the export", async () => {
    const { org, admin, browser } = await orgWithAdmin();
    const { user: evil } = await createUser({ orgId: org.id });
    await db.user.update({ where: { id: evil.id }, data: { name: '=HYPERLINK("http://evil.test","click"), "quoted"' } });
    await audit({ action: "link.revoked", orgId: org.id, actorId: admin.id, targetType: "user", targetId: evil.id, ipAddress: "203.0.113.9" });
    await audit({ action: "signout", orgId: org.id, actorId: admin.id });
    const r = await browser.get(auditExport.loader as never, "/admin/audit/export?format=csv&type=link");
    expect(r.status).toBe(200);
    const rows = parseCsv(r.data);
    expect(rows[0]).toEqual(["time_utc", "event", "action", "result", "actor_name", "actor_email", "affected", "address", "device", "detail"]);
    expect(rows).toHaveLength(2);
    expect(rows[1]![1]).toBe(`${admin.name} revoked =HYPERLINK("http://evil.test","click"), "quoted"'s Microsoft link.`);
    expect(rows[1]![6]).toBe(`'=HYPERLINK("http://evil.test","click"), "quoted"`);
    expect(rows[1]![7]).toBe("203.0.113.9");
    expect(await db.auditEvent.count({ where: { orgId: org.id, action: "audit.exported", actorId: admin.id } })).toBe(1);
    expect(csvCell("-1+1")).toBe("'-1+1");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
  });

  it("exports JSON Lines across many batches, each event once, none of another org", async () => {
    const { org, admin, browser } = await orgWithAdmin();
    const other = await createOrg("Other");
    await db.auditEvent.createMany({
      data: Array.from({ length: 2500 }, (_, i) => ({
        orgId: org.id,
        action: "signout",
        actorId: admin.id,
        createdAt: new Date(1_780_000_000_000 + (i % 700) * 1000),
      })),
    });
    await db.auditEvent.createMany({ data: Array.from({ length: 30 }, () => ({ orgId: other.id, action: "signout" })) });
    const r = await browser.get(auditExport.loader as never, "/admin/audit/export?format=jsonl&type=signout");
    const lines = (r.data as string)
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2500);
    expect(new Set(lines.map((l) => l.id)).size).toBe(2500);
    expect(lines.every((l) => l.sentence === `${admin.name} signed out.`)).toBe(true);
    const times = lines.map((l) => l.at);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it("refuses an unknown format or a bad filter with 400", async () => {
    const { browser } = await orgWithAdmin();
    expect((await browser.get(auditExport.loader as never, "/admin/audit/export?format=xlsx")).status).toBe(400);
    expect((await browser.get(auditExport.loader as never, "/admin/audit/export?format=csv&from=nope")).status).toBe(400);
  });
});
