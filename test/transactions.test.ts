// A statement made outside a transaction must not become part of another request's open transaction:
// on SQLite all of them share one connection, so the portal makes them wait for it to end.
import { describe, expect, it } from "vitest";
import { db } from "~/lib/db.server.ts";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("statements outside an open transaction", () => {
  it("survive the transaction's rollback", async () => {
    const org = await db.organization.create({ data: { name: "Acme", slug: "acme" } });
    let outsideDone = false;
    const failing = db.$transaction(async (tx) => {
      await tx.organization.update({ where: { id: org.id }, data: { name: "Inside" } });
      await pause(100); // another request runs meanwhile
      throw new Error("the page failed");
    });
    await pause(20);
    const outside = db.organization.create({ data: { name: "Other", slug: "other" } }).then(() => (outsideDone = true));
    await expect(failing).rejects.toThrow("the page failed");
    await outside;
    expect(outsideDone).toBe(true);
    const names = (await db.organization.findMany({ orderBy: { slug: "asc" } })).map((o) => o.name);
    expect(names).toEqual(["Acme", "Other"]);
  });

  it("do not see what an open transaction has not committed", async () => {
    const org = await db.organization.create({ data: { name: "Acme", slug: "acme" } });
    const tx = db.$transaction(async (t) => {
      await t.organization.update({ where: { id: org.id }, data: { name: "Uncommitted" } });
      await pause(100);
      throw new Error("rolled back");
    });
    await pause(20);
    const seen = (await db.organization.findUnique({ where: { id: org.id } }))?.name;
    await expect(tx).rejects.toThrow("rolled back");
    expect(seen).not.toBe("Uncommitted");
  });
});
