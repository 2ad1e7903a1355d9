// Applies and diffs the committed Prisma migrations in-process with Prisma's own schema engine
// (the WASM build), because the CLI's native engine cannot be downloaded on offline machines.
// On a machine with ordinary internet `npx prisma migrate deploy` does the same on the same folder.
// See docs/decisions/001-prisma-offline.md.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import Database from "better-sqlite3";

const root = path.resolve(import.meta.dirname, "../..");
export const schemaPath = path.join(root, "prisma/schema.prisma");
export const migrationsDir = path.join(root, "prisma/migrations");

export function sqliteFile(databaseUrl: string): string {
  if (!databaseUrl.startsWith("file:")) throw new Error(`Only file: (SQLite) URLs are supported here, not ${databaseUrl}`);
  return databaseUrl.slice("file:".length);
}

function migrationList() {
  const dirs = existsSync(migrationsDir)
    ? readdirSync(migrationsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
    : [];
  const lockPath = path.join(migrationsDir, "migration_lock.toml");
  return {
    baseDir: migrationsDir,
    lockfile: { path: "migration_lock.toml", content: existsSync(lockPath) ? readFileSync(lockPath, "utf8") : null },
    shadowDbInitScript: "",
    migrationDirectories: dirs.map((name) => ({
      path: name,
      migrationFile: { path: "migration.sql", content: { tag: "ok" as const, value: readFileSync(path.join(migrationsDir, name, "migration.sql"), "utf8") } },
    })),
  };
}

const noFilter = { externalTables: [], externalEnums: [] };

// The package imports its .wasm file as an ES module, which Node cannot load; instantiate it by hand.
async function loadSchemaEngine() {
  const bindings = await import("@prisma/schema-engine-wasm/schema_engine_bg");
  const entry = createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm");
  const wasmPath = path.join(path.dirname(entry), "schema_engine_bg.wasm");
  const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { "./schema_engine_bg.js": bindings });
  bindings.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return bindings.SchemaEngine;
}

let engineClass: ReturnType<typeof loadSchemaEngine> | undefined;

async function engineFor(file: string) {
  const SchemaEngine = await (engineClass ??= loadSchemaEngine());
  const schema = readFileSync(schemaPath, "utf8");
  const factory = withScriptShadow(new PrismaBetterSqlite3({ url: `file:${file}` }));
  // Keep the connections the engine opens so that they can be closed: an open one locks the file.
  const opened: { dispose(): Promise<void> }[] = [];
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const connection = await connect();
    opened.push(connection);
    return connection;
  };
  const engine = await SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, () => {}, bindMigrationAwareSqlAdapterFactory(factory));
  return {
    engine,
    async close() {
      await Promise.all(opened.map((c) => c.dispose()));
      engine.free();
    },
  };
}

// The engine replays migrations on the shadow database with executeRaw, which better-sqlite3 refuses
// for multi-statement files; run those as scripts instead.
function withScriptShadow(factory: PrismaBetterSqlite3): PrismaBetterSqlite3 {
  const connect = factory.connectToShadowDb.bind(factory);
  factory.connectToShadowDb = async () => {
    const shadow = await connect();
    const executeRaw = shadow.executeRaw.bind(shadow);
    shadow.executeRaw = async (query) =>
      query.args.length === 0 && query.sql.includes(";") ? (await shadow.executeScript(query.sql), 0) : executeRaw(query);
    return shadow;
  };
  return factory;
}

// Prisma's engine fails with P1014 on a database that has never seen a migration; create the
// bookkeeping table exactly as Prisma does so that the history stays compatible with `migrate deploy`.
function ensureMigrationsTable(file: string) {
  const db = new Database(file);
  // WAL is a property of the file: readers never wait for the writer.
  db.pragma("journal_mode = WAL");
  db.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME,
    "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME,
    "started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)`);
  db.close();
}

export async function deployMigrations(databaseUrl: string): Promise<string[]> {
  const file = sqliteFile(databaseUrl);
  ensureMigrationsTable(file);
  const { engine, close } = await engineFor(file);
  try {
    const out = await engine.applyMigrations({ migrationsList: migrationList(), filters: noFilter });
    return out.appliedMigrationNames;
  } finally {
    await close();
  }
}

/** SQL that takes the committed migrations to the current schema; empty when they agree. */
export async function diffMigrationsToSchema(): Promise<string> {
  const { engine, close } = await engineFor(":memory:");
  const schema = readFileSync(schemaPath, "utf8");
  const result = await engine.diff({
    from: migrationList().migrationDirectories.length ? { tag: "migrations", ...migrationList() } : { tag: "empty" },
    to: { tag: "schemaDatamodel", files: [{ path: schemaPath, content: schema }] },
    script: true,
    exitCode: true,
    filters: noFilter,
  }).finally(close);
  return result.exitCode === 2 ? result.stdout ?? "" : "";
}
