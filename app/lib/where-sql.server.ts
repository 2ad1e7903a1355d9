// A Prisma condition on users, of the few forms methodWhere and the list filters use, as SQL on `"User" u`:
// the users list is one raw query (Prisma's `contains` escapes neither % nor _, and has no ESCAPE clause).
// Anything outside those forms throws, so a new form is noticed by the tests rather than dropped silently.
import { Prisma } from "~/generated/prisma/client.ts";

type Where = Prisma.UserWhereInput;

const COLUMNS = new Set(["id", "orgId", "source", "status", "ssoEnabled", "passwordHash", "linkPrompt", "syncIntegrationId"]);
const TRUE = Prisma.sql`1 = 1`;
const FALSE = Prisma.sql`1 = 0`;

const list = (values: unknown[]) => Prisma.join(values.map((v) => Prisma.sql`${v}`));

function column(name: string, filter: unknown): Prisma.Sql {
  if (!COLUMNS.has(name)) throw new Error(`whereSql: the column ${name} is not one a users filter uses.`);
  const c = Prisma.raw(`u."${name}"`);
  if (filter === null) return Prisma.sql`${c} IS NULL`;
  if (typeof filter !== "object") return Prisma.sql`${c} = ${filter}`;
  const [op, value, ...more] = Object.entries(filter as object).flat();
  if (more.length) throw new Error(`whereSql: one operator per column (${name}).`);
  if (op === "not") return value === null ? Prisma.sql`${c} IS NOT NULL` : Prisma.sql`${c} <> ${value}`;
  if (op === "in") return (value as unknown[]).length ? Prisma.sql`${c} IN (${list(value as unknown[])})` : FALSE;
  if (op === "notIn") return (value as unknown[]).length ? Prisma.sql`${c} NOT IN (${list(value as unknown[])})` : TRUE;
  throw new Error(`whereSql: the operator ${String(op)} is not supported (${name}).`);
}

/**
 * Links as `u."id" [NOT] IN (users linked through the org's integrations …)`: an uncorrelated subquery that
 * PostgreSQL hashes once and SQLite materializes once, where a correlated EXISTS is one lookup per user (slow under
 * an OR on PostgreSQL). A link is only ever made through an integration of the user's own org, and goes with it.
 */
function link(filter: unknown, orgId: string): Prisma.Sql {
  const linked = (and: Prisma.Sql) =>
    Prisma.sql`(SELECT l."userId" FROM "MicrosoftLink" l WHERE l."integrationId" IN (SELECT i."id" FROM "Integration" i WHERE i."orgId" = ${orgId}) AND ${and})`;
  const f = filter as { is?: { integrationId?: { in?: string[]; notIn?: string[] } } | null; isNot?: null };
  if ("isNot" in f && f.isNot === null) return Prisma.sql`u."id" IN ${linked(TRUE)}`;
  if ("is" in f && f.is === null) return Prisma.sql`u."id" NOT IN ${linked(TRUE)}`;
  const ids = f.is?.integrationId;
  if (ids?.in) return ids.in.length ? Prisma.sql`u."id" IN ${linked(Prisma.sql`l."integrationId" IN (${list(ids.in)})`)}` : FALSE;
  if (ids?.notIn) return Prisma.sql`u."id" IN ${linked(ids.notIn.length ? Prisma.sql`l."integrationId" NOT IN (${list(ids.notIn)})` : TRUE)}`;
  throw new Error(`whereSql: this microsoftLink filter is not supported: ${JSON.stringify(filter)}.`);
}

/** The condition on `"User" u` of the org `orgId` (link subqueries are limited to its users). */
export function whereSql(where: Where, orgId: string): Prisma.Sql {
  const parts = Object.entries(where).map(([key, value]): Prisma.Sql => {
    if (key === "AND" || key === "OR") {
      const items = (Array.isArray(value) ? value : [value]) as Where[];
      if (!items.length) return key === "AND" ? TRUE : FALSE;
      return Prisma.sql`(${Prisma.join(
        items.map((w) => whereSql(w, orgId)),
        key === "AND" ? " AND " : " OR ",
      )})`;
    }
    if (key === "microsoftLink") return link(value, orgId);
    return column(key, value);
  });
  return parts.length === 0 ? TRUE : parts.length === 1 ? parts[0]! : Prisma.sql`(${Prisma.join(parts, " AND ")})`;
}
