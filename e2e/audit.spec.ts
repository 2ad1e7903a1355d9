import { readFile } from "node:fs/promises";
import { db } from "../app/lib/db.server.ts";
import { expect, newAccount, signIn, test } from "./fixtures.ts";

test("an admin filters the audit log, pages through it and downloads the filtered set as CSV", async ({ page }) => {
  const admin = await newAccount({ role: "admin" });
  const member = await newAccount({ orgId: admin.orgId });
  await db.auditEvent.createMany({
    data: Array.from({ length: 60 }, (_, i) => ({
      orgId: admin.orgId,
      actorId: member.userId,
      action: "signin.password.failed",
      result: "failure",
      detail: JSON.stringify({ failures: i + 1 }),
      ipAddress: "198.51.100.7",
      createdAt: new Date(Date.UTC(2026, 4, 1, 9, 0, i)),
    })),
  });
  await signIn(page, admin);

  await page.goto("/admin/audit");
  // The admin's own sign-in is the newest event, as a sentence with the device it came from.
  await expect(page.getByTestId("audit-event").first()).toContainText("signed in with password and authenticator code.");
  await page.getByLabel("Event type").selectOption("signin.password.failed");
  await page.getByLabel("Affected user (name or email)").fill(member.email);
  await page.getByLabel("From (UTC)").fill("2026-05-01");
  await page.getByLabel("To (UTC, inclusive)").fill("2026-05-01");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.getByTestId("audit-event")).toHaveCount(50);
  await expect(page.getByTestId("audit-event").first()).toContainText("entered a wrong password (failed attempt 60).");
  await page.getByRole("link", { name: "Older events →" }).click();
  await expect(page.getByTestId("audit-event")).toHaveCount(10);
  await expect(page.getByTestId("audit-event").last()).toContainText("(failed attempt 1).");

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "CSV" }).click();
  const file = await (await download).path();
  const lines = (await readFile(file, "utf8")).trimEnd().split("\r\n");
  expect(lines[0]).toBe("time_utc,event,action,result,actor_name,actor_email,affected,address,device,detail");
  expect(lines).toHaveLength(61);
  expect(lines[1]).toContain("entered a wrong password (failed attempt 60).");
  expect(lines[1]).toContain("198.51.100.7");
});

test("a bad date keeps what was typed and says what to fix", async ({ page }) => {
  const admin = await newAccount({ role: "admin" });
  await signIn(page, admin);
  await page.goto("/admin/audit?from=2026-05-02&to=2026-05-01&actor=someone");
  await expect(page.getByText("The start date is after the end date.")).toBeVisible();
  await expect(page.getByLabel("Who (name or email)")).toHaveValue("someone");
  await expect(page.getByRole("link", { name: "CSV" })).toHaveCount(0);
});
