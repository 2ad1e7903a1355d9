// Runs `prisma generate` after install, for both databases. Prisma 7's CLI looks for its native schema
// engine before generating, although generation itself is WASM; where that engine could not be downloaded
// (offline machines), point the check at an existing file. See docs/decisions/001-prisma-offline.md.
// prisma/schema.prisma (SQLite) is the source of truth; prisma/postgres/schema.prisma is written from it
// (docs/decisions/008-postgresql.md).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The PostgreSQL schema: the same models, another provider and another client folder. */
export function postgresSchema(sqliteSchema) {
  const out = sqliteSchema
    .replace(/(datasource db \{[^}]*provider\s*=\s*)"sqlite"/, '$1"postgresql"')
    .replace(/(generator client \{[^}]*output\s*=\s*)"\.\.\/app\/generated\/prisma"/, '$1"../../app/generated/prisma-pg"');
  if (!out.includes('"postgresql"') || !out.includes("prisma-pg"))
    throw new Error("prisma/schema.prisma no longer has the provider/output lines that postgresSchema rewrites.");
  return `// Written by scripts/prisma-generate.mjs from prisma/schema.prisma: edit that file, not this one.\n${out}`;
}

export const postgresSchemaPath = path.join(root, "prisma/postgres/schema.prisma");

export function writePostgresSchema() {
  const text = postgresSchema(readFileSync(path.join(root, "prisma/schema.prisma"), "utf8"));
  mkdirSync(path.dirname(postgresSchemaPath), { recursive: true });
  writeFileSync(postgresSchemaPath, text);
  return text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writePostgresSchema();
  const env = { ...process.env };
  env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(import.meta.url);
  env.PRISMA_HIDE_UPDATE_MESSAGE = "1";
  for (const schema of ["prisma/schema.prisma", "prisma/postgres/schema.prisma"]) {
    execFileSync("npx", ["prisma", "generate", "--schema", schema], { stdio: "inherit", env, cwd: root });
  }
}
