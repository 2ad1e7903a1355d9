// Database commands that work offline: `deploy` applies prisma/migrations, `diff` fails when the
// schema and the migrations disagree (CI), `new NAME` writes a migration for schema changes.
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { deployMigrations, diffMigrationsToSchema, migrationsDir, sqliteFile } from "../app/lib/migrate.server.ts";

const [command, name] = process.argv.slice(2);
const url = process.env.DATABASE_URL ?? "file:./data/portal.db";

if (command === "deploy") {
  mkdirSync(path.dirname(sqliteFile(url)), { recursive: true });
  const applied = await deployMigrations(url);
  console.log(applied.length ? `Applied ${applied.join(", ")}` : "Database is up to date.");
} else if (command === "diff") {
  const sql = await diffMigrationsToSchema();
  if (sql.trim()) {
    console.error("prisma/schema.prisma has changes that no migration covers. Run `npm run db:new -- NAME`.\n" + sql);
    process.exit(2);
  }
  console.log("Migrations match the schema.");
} else if (command === "new" && name && /^[a-z0-9_]+$/.test(name)) {
  const sql = await diffMigrationsToSchema();
  if (!sql.trim()) {
    console.log("No schema changes.");
    process.exit(0);
  }
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  const dir = path.join(migrationsDir, `${stamp}_${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "migration.sql"), sql);
  const lock = path.join(migrationsDir, "migration_lock.toml");
  if (!existsSync(lock)) writeFileSync(lock, 'provider = "sqlite"\n');
  console.log(`Wrote ${path.relative(process.cwd(), dir)}/migration.sql`);
} else {
  console.error("Usage: tsx scripts/db.ts deploy | diff | new <snake_case_name>");
  process.exit(1);
}
