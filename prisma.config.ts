import { defineConfig } from "prisma/config";

// The PostgreSQL schema and migrations when DATABASE_URL is postgresql:// (docs/decisions/008-postgresql.md).
const url = process.env.DATABASE_URL ?? "file:./data/portal.db";
const dir = /^postgres(ql)?:\/\//.test(url) ? "prisma/postgres" : "prisma";

export default defineConfig({
  schema: `${dir}/schema.prisma`,
  migrations: { path: `${dir}/migrations` },
  datasource: { url },
});
