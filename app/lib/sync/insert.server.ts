// New synced users go in with multi-row INSERTs. Prisma's createMany compiles every value of
// every row through its query compiler: ~0.7 s and ~35 MB of WASM memory that is never returned per 999
// users, which alone would miss the 100k-user targets (bench/sync.ts). Prisma.sql keeps the statement
// parameterized and portable; the adapter writes Dates exactly as Prisma does.
import { randomBytes } from "node:crypto";
import { Prisma } from "~/generated/prisma/client.ts";
import type { Tx } from "./lock.server.ts";

/** The columns a synced user is created with; the others keep their database defaults. */
export type NewSyncedUser = Required<
  Pick<
    Prisma.UserCreateManyInput,
    "orgId" | "name" | "email" | "phone" | "jobTitle" | "status" | "entraTenantId" | "entraObjectId" | "entraUpn" | "syncIntegrationId"
  >
> & { lastSyncedAt: Date };

const BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz";

/** An id in the shape of Prisma's cuid() (25 lowercase characters, starting with c), which the INSERT bypasses. */
export function newId(): string {
  const time = Date.now().toString(36).padStart(8, "0").slice(-8);
  let random = "";
  for (const byte of randomBytes(16)) random += BASE36[byte % 36];
  return `c${time}${random}`;
}

/** Rows per statement: big enough to amortize a statement, small enough that its garbage dies young. */
const ROWS_PER_INSERT = 100;

export async function insertSyncedUsers(tx: Tx, users: NewSyncedUser[]): Promise<number> {
  const now = new Date();
  let inserted = 0;
  for (let i = 0; i < users.length; i += ROWS_PER_INSERT) {
    const rows = users
      .slice(i, i + ROWS_PER_INSERT)
      .map(
        (u) =>
          Prisma.sql`(${newId()}, ${u.orgId}, ${u.name}, ${u.email}, ${u.phone}, ${u.jobTitle}, 'synced', ${u.status}, ${u.entraTenantId}, ${u.entraObjectId}, ${u.entraUpn}, ${u.syncIntegrationId}, ${u.lastSyncedAt}, ${now}, ${now})`,
      );
    inserted += await tx.$executeRaw`
      INSERT INTO "User" ("id", "orgId", "name", "email", "phone", "jobTitle", "source", "status", "entraTenantId", "entraObjectId", "entraUpn", "syncIntegrationId", "lastSyncedAt", "createdAt", "updatedAt")
      VALUES ${Prisma.join(rows)}`;
  }
  return inserted;
}
