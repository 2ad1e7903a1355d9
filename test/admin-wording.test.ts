// Issue 15, wording: counts and durations through one helper (app/lib/wording.ts), link lifetimes from one
// table (app/lib/link-lifetimes.ts) in the emails and on the dead-link page, and the TOTP key in groups that
// never break.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { TotpSetupPanel } from "~/components/totp-setup.tsx";
import { db } from "~/lib/db.server.ts";
import { describeRetention } from "~/lib/retention.server.ts";
import { sendSetPasswordLinks, setPasswordOutcome } from "~/lib/set-password.server.ts";
import { requestPasswordReset } from "~/lib/password-reset.server.ts";
import { describeFailure } from "~/lib/signin/steps.server.ts";
import { consumeToken, issueToken } from "~/lib/tokens.server.ts";
import { LINK_MINUTES } from "~/lib/link-lifetimes.ts";
import { PENDING_MINUTES } from "~/lib/session.server.ts";
import { count, duration, minutes } from "~/lib/wording.ts";
import { Browser, createOrg, createUser } from "./helpers.ts";
import { textOf, usePages } from "./admin-render.ts";

const render = usePages();

describe("count", () => {
  it.each([
    [0, "0 users"],
    [1, "1 user"],
    [2, "2 users"],
    [20_000, "20,000 users"],
  ])("%i → %s", (n, text) => expect(count(n, "user")).toBe(text));

  it("takes an irregular plural", () => {
    expect(count(1, "person", "people")).toBe("1 person");
    expect(count(3, "person", "people")).toBe("3 people");
  });
});

describe("duration", () => {
  it.each([
    [1, "1 second"],
    [59, "59 seconds"],
    [60, "1 minute"],
    [90, "90 seconds"],
    [120, "2 minutes"],
    [3600, "1 hour"],
    [30 * 60, "30 minutes"],
    [100 * 60, "100 minutes"],
    [2 * 3600, "2 hours"],
    [24 * 3600, "24 hours"],
    [36 * 3600, "36 hours"],
    [7 * 86_400, "7 days"],
  ])("%i s → %s", (seconds, text) => expect(duration(seconds)).toBe(text));

  it("rounds a wait up, never down, in the largest unit that fits", () => {
    expect(duration(0.2, "roundUp")).toBe("1 second");
    expect(duration(437, "roundUp")).toBe("8 minutes");
    expect(duration(2 * 3600 + 1, "roundUp")).toBe("3 hours");
  });

  it("reads minutes, the unit lifetimes are configured in", () => {
    expect(minutes(1440)).toBe("24 hours");
    expect(minutes(1)).toBe("1 minute");
  });
});

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === "generated" ? [] : sources(path.join(dir, e.name))) : /\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}

describe("sentences that count", () => {
  it("no page, mail or message writes a plural as '(s)'", () => {
    const offenders = [...sources("app"), ...sources("emails")]
      .flatMap((file) =>
        readFileSync(file, "utf8")
          .split("\n")
          .map((line, i) => [file, i + 1, line] as const)
          .filter(([, , line]) => /[\s{]\w+\(s\)/.test(line) && !/^\s*(\/\/|\/?\*)/.test(line)),
      )
      .map(([file, n, line]) => `${file}:${n}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it("a throttled sign-in says 'in 1 second', not 'in 1 seconds'", () => {
    const text = describeFailure({ kind: "blocked", until: new Date(Date.now() + 1000) } as Parameters<typeof describeFailure>[0], "password");
    expect(text).toMatch(/\(in 1 second\)\.$/);
  });

  it("a long block is said in minutes, rounded up", () => {
    const text = describeFailure({ kind: "blocked", until: new Date(Date.now() + 437_000) } as Parameters<typeof describeFailure>[0], "code");
    expect(text).toMatch(/\(in 8 minutes\)\.$/);
  });

  it("set-password outcomes agree with their numbers", async () => {
    const org = await createOrg();
    const { user: admin } = await createUser({ orgId: org.id, role: "admin" });
    const { user: one } = await createUser({ orgId: org.id, password: null });
    const session = { userId: admin.id, user: { orgId: org.id } };
    expect(await setPasswordOutcome(session, [one], false)).toBe("1 user has no way to sign in until they get a password.");
    expect(await setPasswordOutcome(session, [one], true)).toBe("Set-password link sent to 1 user.");
    const { user: noEmail } = await createUser({ orgId: org.id, password: null, email: null, phone: "+14155550101" });
    expect(await setPasswordOutcome(session, [one, noEmail], true)).toBe(
      "Set-password link sent to 1 user. 1 user has no email address: give them a new user ID first.",
    );
  });

  it("the retention summary counts each kind in the singular or plural", () => {
    const text = describeRetention(
      { sessions: 1, flowStates: 2, tokens: 0, mail: 1, attemptCounters: 1, appTokens: 2, auditEvents: 5 } as Parameters<typeof describeRetention>[0],
      {
        auditDays: 1,
      },
    );
    expect(text).toBe(
      "Deleted 1 expired session, 2 Microsoft flow states, 0 used or expired tokens, 1 delivered mail, 1 sign-in attempt counter, 2 expired app tokens and 5 audit events (older than 1 day).",
    );
  });
});

describe("link lifetimes in the emails", () => {
  it("the set-password mail says 24 hours, not 1440 minutes", async () => {
    const org = await createOrg();
    const { user } = await createUser({ orgId: org.id, password: null });
    await sendSetPasswordLinks(org.id, [user.id], user.id);
    const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: user.email! } });
    expect(mail.text).toContain("expires in 24 hours");
    expect(textOf(mail.html.replace(/<!-- -->/g, ""))).toContain("expires in 24 hours");
    expect(mail.text).not.toMatch(/1440|minutes/);
  });

  it("the password reset mail says 30 minutes", async () => {
    const { user } = await createUser();
    await requestPasswordReset(user.email!, "203.0.113.9");
    const mail = await db.outgoingMail.findFirstOrThrow({ where: { to: user.email! } });
    expect(mail.text).toContain("expires in 30 minutes");
  });
});

describe("the dead-link page names the lifetime of the link that was opened", () => {
  async function usedLink(type: "set_password" | "password_reset") {
    const { user } = await createUser();
    const token = await issueToken(type, user.id, LINK_MINUTES[type]);
    expect(await consumeToken(type, token)).not.toBeNull();
    return token;
  }

  it("a used set-password link: 24 hours", async () => {
    const page = await render(new Browser(), `/reset-password?token=${await usedLink("set_password")}`);
    expect(page.status).toBe(200);
    const text = textOf(page.html);
    expect(text).toContain("This link has expired or was already used. Links to set a password work once, for 24 hours.");
    expect(text).not.toContain("30 minutes");
  });

  it("a used reset link: 30 minutes", async () => {
    const text = textOf((await render(new Browser(), `/reset-password?token=${await usedLink("password_reset")}`)).html);
    expect(text).toContain("Password reset links work once, for 30 minutes.");
    expect(text).not.toContain("24 hours");
  });

  it("an expired set-password link: 24 hours", async () => {
    const { user } = await createUser();
    const token = await issueToken("set_password", user.id, LINK_MINUTES.set_password);
    await db.oneTimeToken.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(textOf((await render(new Browser(), `/reset-password?token=${token}`)).html)).toContain("for 24 hours");
  });

  it.each([
    ["an unknown token", "A".repeat(43)],
    ["a malformed token", "<script>"],
    ["another kind of token", "invitation"],
  ])("%s: says the link is not valid, and claims no lifetime", async (_name, value) => {
    let token = value;
    if (value === "invitation") {
      const { user } = await createUser();
      token = await issueToken("invitation", user.id, LINK_MINUTES.invitation);
    }
    const text = textOf((await render(new Browser(), `/reset-password?token=${encodeURIComponent(token)}`)).html);
    expect(text).toContain("This link isn't valid");
    expect(text).not.toMatch(/30 minutes|24 hours|7 days/);
  });
});

describe("other lifetimes on pages", () => {
  it("an expired enrolment says how long unfinished sign-ins last, from the session's own setting", async () => {
    expect(textOf((await render(new Browser(), "/login/enrol")).html)).toContain(`unfinished sign-ins end after ${minutes(PENDING_MINUTES)}.`);
    expect(minutes(PENDING_MINUTES)).toBe("10 minutes");
  });
});

describe("the TOTP key", () => {
  const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
  const groups = secret.match(/.{4}/g)!;

  it("is one unbreakable element per group of four, separated by spaces", () => {
    const html = renderToStaticMarkup(createElement(TotpSetupPanel, { qrSvg: "<svg></svg>", secretGroups: groups.join(" "), uri: "otpauth://totp/x" }));
    const key = /<p class="secret"[^>]*>([\s\S]*?)<\/p>/.exec(html)![1]!;
    expect(key).toBe(groups.map((g) => `<span class="secret-group">${g}</span>`).join(" "));
    expect(textOf(key)).toBe(groups.join(" "));
  });

  it("groups do not wrap inside and the key does not break anywhere else (the stylesheet)", () => {
    const css = readFileSync("app/styles.css", "utf8").replace(/\s+/g, " ");
    expect(css).toMatch(/\.secret-group \{[^}]*white-space: nowrap/);
    expect(css).not.toMatch(/\.secret \{[^}]*(word-break|overflow-wrap): (break-all|anywhere)/);
  });
});
