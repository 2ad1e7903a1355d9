// Database commands that work offline, for SQLite (prisma/) and PostgreSQL (prisma/postgres/):
// `deploy` applies the migrations of DATABASE_URL's kind, `diff` fails when a schema and its migrations
// disagree (CI), `new NAME` writes a migration for schema changes into both folders.
// The PostgreSQL folder can only be diffed against a server: DATABASE_URL or TEST_PG_URL (postgresql://…).
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  databaseErrorSentence,
  deployMigrations,
  diffMigrationsToSchema,
  isPostgresUrl,
  MigrationError,
  migrationsDirs,
  providerOf,
  providers,
  sqliteFile,
  type Provider,
} from "../app/lib/migrate.server.ts";
import { env as loadEnv } from "../app/lib/env.server.ts";
import { postgresSchema, postgresSchemaPath, writePostgresSchema } from "./prisma-generate.mjs";

const [command, name] = process.argv.slice(2);
const url = process.env.DATABASE_URL ?? "file:./data/portal.db";
const pgServer = [url, process.env.TEST_PG_URL ?? ""].find(isPostgresUrl);
const lockText: Record<Provider, string> = { sqlite: 'provider = "sqlite"\n', postgresql: 'provider = "postgresql"\n' };

function postgresSchemaCurrent() {
  const expected = postgresSchema(readFileSync(path.resolve("prisma/schema.prisma"), "utf8"));
  return existsSync(postgresSchemaPath) && readFileSync(postgresSchemaPath, "utf8") === expected;
}

async function diffs(): Promise<Partial<Record<Provider, string>>> {
  const out: Partial<Record<Provider, string>> = { sqlite: await diffMigrationsToSchema("sqlite") };
  if (pgServer) out.postgresql = await diffMigrationsToSchema("postgresql", pgServer);
  return out;
}

// Data the SQL migrations cannot change (AES): authenticator secrets tagged by totp_secret_binding. It needs the
// portal's environment (TOTP_ENCRYPTION_KEY); without it the portal re-seals them when it starts.
async function resealSecrets() {
  try {
    loadEnv();
  } catch (error) {
    console.warn(`Authenticator secrets were not re-sealed here (${(error as Error).message}); the portal re-seals them when it starts.`);
    return;
  }
  const { describeReseal, resealTotpSecrets } = await import("../app/lib/totp-reseal.server.ts");
  const { db } = await import("../app/lib/db.server.ts");
  try {
    const said = describeReseal(await resealTotpSecrets());
    if (said) console.log(said);
  } finally {
    await db.$disconnect();
  }
}

if (command === "deploy") {
  try {
    if (providerOf(url) === "sqlite") mkdirSync(path.dirname(sqliteFile(url)), { recursive: true });
    const applied = await deployMigrations(url);
    console.log(applied.length ? `Applied ${applied.join(", ")}` : "Database is up to date.");
    await resealSecrets();
  } catch (error) {
    // An operator reads one sentence, not an engine's backtrace.
    console.error(error instanceof MigrationError ? error.message : databaseErrorSentence(error));
    process.exitCode = 1;
  }
} else if (command === "diff") {
  if (!postgresSchemaCurrent()) {
    console.error("prisma/postgres/schema.prisma is older than prisma/schema.prisma. Run `npm run db:new -- NAME` (or `node scripts/prisma-generate.mjs`).");
    process.exit(2);
  }
  let behind = false;
  for (const [provider, sql] of Object.entries(await diffs())) {
    if (!sql.trim()) continue;
    behind = true;
    console.error(
      `${path.relative(process.cwd(), migrationsDirs[provider as Provider])} lags the schema: it has changes that no migration covers. Run \`npm run db:new -- NAME\`.\n${sql}`,
    );
  }
  if (behind) process.exit(2);
  console.log(
    pgServer
      ? "Migrations match the schema (SQLite and PostgreSQL)."
      : "SQLite migrations match the schema. PostgreSQL not checked: set TEST_PG_URL=postgresql://… to check it.",
  );
} else if (command === "new" && name && /^[a-z0-9_]+$/.test(name)) {
  if (!pgServer) {
    console.error("Writing the PostgreSQL migration needs a PostgreSQL server: set TEST_PG_URL=postgresql://… (or DATABASE_URL).");
    process.exit(1);
  }
  const schemaChanged = !postgresSchemaCurrent();
  writePostgresSchema();
  const found = await diffs();
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  let wrote = 0;
  for (const provider of providers) {
    const sql = found[provider] ?? "";
    if (!sql.trim()) continue;
    const dir = path.join(migrationsDirs[provider], `${stamp}_${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "migration.sql"), sql);
    const lock = path.join(migrationsDirs[provider], "migration_lock.toml");
    if (!existsSync(lock)) writeFileSync(lock, lockText[provider]);
    console.log(`Wrote ${path.relative(process.cwd(), dir)}/migration.sql`);
    wrote++;
  }
  if (!wrote) console.log("No schema changes.");
  // The PostgreSQL client is generated from the rewritten schema.
  if (schemaChanged || wrote) execFileSync("node", ["scripts/prisma-generate.mjs"], { stdio: "inherit" });
} else {
  console.error("Usage: tsx scripts/db.ts deploy | diff | new <snake_case_name>");
  process.exit(1);
}
// The WASM engine leaves a 10 s timer behind after a PostgreSQL deploy (its advisory-lock timeout).
process.exit(process.exitCode ?? 0);
