import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "~/generated/prisma/client.ts";
import { env } from "./env.server.ts";

function createClient() {
  const url = env().DATABASE_URL;
  if (!url.startsWith("file:")) throw new Error("The environment variable DATABASE_URL is invalid: only SQLite (file:) is supported in this version.");
  // WAL lets readers run beside the single writer; busy_timeout queues writers instead of failing.
  const adapter = new PrismaBetterSqlite3({ url, timeout: 5000 });
  return new PrismaClient({ adapter });
}

const globalForDb = globalThis as unknown as { portalDb?: ReturnType<typeof createClient> };

export const db = (globalForDb.portalDb ??= createClient());

export type Db = typeof db;
