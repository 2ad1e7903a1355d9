// Applies and diffs the committed Prisma migrations in-process with Prisma's own schema engine
// (the WASM build), because the CLI's native engine cannot be downloaded on offline machines.
// On a machine with ordinary internet `npx prisma migrate deploy` does the same on the same folder.
// SQLite uses prisma/, PostgreSQL prisma/postgres/ (chosen by the URL's scheme).
// See docs/decisions/001-prisma-offline.md and 008-postgresql.md.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import Database from "better-sqlite3";
import pg from "pg";

const root = path.resolve(import.meta.dirname, "../..");
export type Provider = "sqlite" | "postgresql";
export const providers: Provider[] = ["sqlite", "postgresql"];
export const schemaPaths: Record<Provider, string> = {
  sqlite: path.join(root, "prisma/schema.prisma"),
  postgresql: path.join(root, "prisma/postgres/schema.prisma"),
};
export const migrationsDirs: Record<Provider, string> = {
  sqlite: path.join(root, "prisma/migrations"),
  postgresql: path.join(root, "prisma/postgres/migrations"),
};
export const schemaPath = schemaPaths.sqlite;
export const migrationsDir = migrationsDirs.sqlite;

// Same test as db-postgres.server.ts, without loading the PostgreSQL client here.
export const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

export function providerOf(databaseUrl: string): Provider {
  if (databaseUrl.startsWith("file:")) return "sqlite";
  if (isPostgresUrl(databaseUrl)) return "postgresql";
  throw new Error(`DATABASE_URL must start with file: (SQLite) or postgresql:// (PostgreSQL), not ${databaseUrl}`);
}

export function sqliteFile(databaseUrl: string): string {
  if (!databaseUrl.startsWith("file:")) throw new Error(`Only file: (SQLite) URLs are supported here, not ${databaseUrl}`);
  return databaseUrl.slice("file:".length);
}

function migrationList(provider: Provider) {
  const dir = migrationsDirs[provider];
  const dirs = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
    : [];
  const lockPath = path.join(dir, "migration_lock.toml");
  return {
    baseDir: dir,
    lockfile: { path: "migration_lock.toml", content: existsSync(lockPath) ? readFileSync(lockPath, "utf8") : null },
    shadowDbInitScript: "",
    migrationDirectories: dirs.map((name) => ({
      path: name,
      migrationFile: { path: "migration.sql", content: { tag: "ok" as const, value: readFileSync(path.join(dir, name, "migration.sql"), "utf8") } },
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

async function engineFor(provider: Provider, url: string) {
  const SchemaEngine = await (engineClass ??= loadSchemaEngine());
  const schema = readFileSync(schemaPaths[provider], "utf8");
  const factory: SqlMigrationAwareDriverAdapterFactory =
    provider === "sqlite"
      ? withScriptShadow(new PrismaBetterSqlite3({ url: `file:${sqliteFile(url)}`, timeout: ENGINE_BUSY_TIMEOUT_MS }))
      : withOwnShadow(readableCatalog(new PrismaPg({ connectionString: url })), url);
  // Keep the connections the engine opens so that they can be closed: an open one locks the file
  // (SQLite) or keeps a pool alive (PostgreSQL).
  const opened: { dispose(): Promise<void> }[] = [];
  let busy = false;
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const connection = await connect();
    opened.push(connection);
    noticeBusy(connection, () => (busy = true));
    return connection;
  };
  const engine = await SchemaEngine.new({ datamodels: [[schemaPaths[provider], schema]] }, () => {}, bindMigrationAwareSqlAdapterFactory(factory));
  return {
    engine,
    async close() {
      await Promise.all(opened.map((c) => c.dispose()));
      engine.free();
    },
    /** Whether SQLite refused a lock: the engine itself only reports an error kind it cannot read. */
    busy: () => busy,
  };
}

// SQLite: how long the engine waits for another connection; its exclusive lock never comes while one is open.
const ENGINE_BUSY_TIMEOUT_MS = 2000;

type Queryable = Record<"queryRaw" | "executeRaw" | "executeScript", ((...args: never[]) => Promise<unknown>) | undefined>;

function noticeBusy(connection: object, onBusy: () => void) {
  const c = connection as Queryable;
  for (const name of ["queryRaw", "executeRaw", "executeScript"] as const) {
    const method = c[name];
    if (!method) continue;
    c[name] = async (...args: never[]) => {
      try {
        return await method.apply(connection, args);
      } catch (error) {
        const cause = (error as { cause?: { kind?: string; originalCode?: string } }).cause;
        if (cause?.kind === "SocketTimeout" || cause?.originalCode?.startsWith("SQLITE_BUSY")) onBusy();
        throw error;
      }
    };
  }
}

// The engine replays migrations on the shadow database with executeRaw, which better-sqlite3 refuses
// for multi-statement files; run those as scripts instead.
function withScriptShadow(factory: PrismaBetterSqlite3): PrismaBetterSqlite3 {
  const connect = factory.connectToShadowDb.bind(factory);
  factory.connectToShadowDb = async () => {
    const shadow = await connect();
    const executeRaw = shadow.executeRaw.bind(shadow);
    shadow.executeRaw = async (query) => (query.args.length === 0 && query.sql.includes(";") ? (await shadow.executeScript(query.sql), 0) : executeRaw(query));
    return shadow;
  };
  return factory;
}

/** The URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function onServer<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// The pg adapter's own shadow database keeps the connection string's database name (pg lets the string
// win over `database`), so migrations would replay on the real database. Create and drop our own.
function withOwnShadow(factory: PrismaPg, url: string): PrismaPg {
  factory.connectToShadowDb = async () => {
    const name = `shadow_${randomUUID().replaceAll("-", "")}`;
    await onServer(url, (c) => c.query(`CREATE DATABASE "${name}"`));
    const shadow = await readableCatalog(new PrismaPg({ connectionString: withDatabase(url, name) })).connect();
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      await onServer(url, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    };
    return shadow;
  };
  return factory;
}

// The engine's introspection reads catalog columns of types `name` and `"char"`, which the pg adapter
// rejects as unsupported column types although pg hands both over as strings: report them as text.
const CATALOG_TEXT_TYPES = new Set([18 /* "char" */, 19 /* name */]);
const TEXT = 25;
type PgIO = { performIO(query: unknown): Promise<{ fields: { dataTypeID: number }[] }> };

function readableCatalog(factory: PrismaPg): PrismaPg {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    const io = adapter as unknown as PgIO;
    const performIO = io.performIO.bind(io);
    io.performIO = async (query) => {
      const result = await performIO(query);
      for (const field of result?.fields ?? []) if (CATALOG_TEXT_TYPES.has(field.dataTypeID)) field.dataTypeID = TEXT;
      return result;
    };
    return adapter;
  };
  return factory;
}

// Prisma's engine fails with P1014 on a database that has never seen a migration; create the
// bookkeeping table exactly as Prisma does so that the history stays compatible with `migrate deploy`.
async function ensureMigrationsTable(provider: Provider, url: string) {
  if (provider === "postgresql") {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client
      .query(
        `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
        "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
        "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
        "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`,
      )
      .finally(() => client.end());
    return;
  }
  const db = new Database(sqliteFile(url));
  // WAL is a property of the file: readers never wait for the writer.
  db.pragma("journal_mode = WAL");
  db.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME,
    "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME,
    "started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)`);
  db.close();
}

/** How the database's migration history compares with this version's migrations folder. */
export type MigrationStatus = {
  /** In the folder, not (successfully) applied to the database: `npm run db:deploy` applies them. */
  pending: string[];
  /** Started and never finished nor rolled back: Prisma's deploy refuses until someone resolves them. */
  failed: string[];
  /** Applied to the database but not in this folder: the database belongs to a newer version of the portal. */
  unknown: string[];
};

type HistoryRow = { migration_name: string; finished_at: unknown; rolled_back_at: unknown };

// Only reads: a plain connection (WAL readers never wait for the portal's writer) or one PostgreSQL query,
// never the schema engine, whose SQLite connection asks for the whole file (locking_mode=EXCLUSIVE).
async function migrationHistory(provider: Provider, url: string): Promise<HistoryRow[]> {
  const sql = `SELECT "migration_name", "finished_at", "rolled_back_at" FROM "_prisma_migrations"`;
  if (provider === "postgresql") {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS "exists"`);
      return rows[0]?.exists ? (await client.query<HistoryRow>(sql)).rows : [];
    } finally {
      await client.end();
    }
  }
  const file = sqliteFile(url);
  if (file !== ":memory:" && !existsSync(file)) return [];
  const sqlite = new Database(file, { fileMustExist: true, timeout: 5000 });
  try {
    const table = sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'`).get();
    return table ? (sqlite.prepare(sql).all() as HistoryRow[]) : [];
  } finally {
    sqlite.close();
  }
}

export async function migrationStatus(databaseUrl: string): Promise<MigrationStatus> {
  const provider = providerOf(databaseUrl);
  const history = await migrationHistory(provider, databaseUrl);
  const local = migrationList(provider).migrationDirectories.map((d) => d.path);
  const applied = new Set(history.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name));
  const failed = history.filter((r) => r.finished_at === null && r.rolled_back_at === null).map((r) => r.migration_name);
  return {
    pending: local.filter((name) => !applied.has(name)),
    failed: [...new Set(failed)],
    unknown: [...applied].filter((name) => !local.includes(name)).sort(),
  };
}

/** The migrations could not be applied; the message is one sentence for the operator. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

const IN_USE =
  "The SQLite database is open in another process (a running portal): Prisma applies migrations to SQLite only while nothing else has the file open, so stop the portal, run `npm run db:deploy` again and start the portal.";

/** Applies the pending migrations and returns their names; a database already up to date is only read. */
export async function deployMigrations(databaseUrl: string): Promise<string[]> {
  const provider = providerOf(databaseUrl);
  const status = await migrationStatus(databaseUrl);
  if (!status.pending.length && !status.failed.length) return [];
  await ensureMigrationsTable(provider, databaseUrl);
  const { engine, close, busy } = await engineFor(provider, databaseUrl);
  try {
    const out = await engine.applyMigrations({ migrationsList: migrationList(provider), filters: noFilter });
    return out.appliedMigrationNames;
  } catch (error) {
    if (busy()) throw new MigrationError(IN_USE);
    throw new MigrationError(`The migrations could not be applied: ${firstLine(error)}`);
  } finally {
    await close();
  }
}

const UNREACHABLE = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/;

/** One sentence for an operator about a database that could not be opened or read (the status check, a deploy). */
export function databaseErrorSentence(error: unknown): string {
  const code = String((error as { code?: unknown })?.code ?? "");
  const message = String((error as Error)?.message ?? error);
  if (UNREACHABLE.test(code) || /timeout|Connection terminated/i.test(message))
    return `The CLI cannot reach the database (${code || message.split("\n")[0]!.slice(0, 120)}): check DATABASE_URL and that the database server is running.`;
  if (code === "3D000") return "The database named in DATABASE_URL does not exist on that server: create it, then run `npm run db:deploy`.";
  if (code === "28P01" || code === "28000") return "The database refused the user or password in DATABASE_URL.";
  if (code.startsWith("SQLITE_")) return `The SQLite database in DATABASE_URL could not be opened or read (${code}).`;
  if (message.startsWith("DATABASE_URL must start")) return `The environment variable ${message.replace(/, not .*$/s, "")}.`;
  return `The database could not be read: ${firstLine(error)}`;
}

// The engine's messages carry a Rust backtrace and a JavaScript stack; the cause is on the first line.
function firstLine(error: unknown): string {
  const lines = String((error as Error)?.message ?? error).split("\n");
  // "external connector error" says nothing; the database's own words follow on a later line.
  const database = lines.find((l) => l.startsWith("Error querying the database: "));
  const line = (database ?? lines[0]!)
    .trim()
    .replace(/^Error querying the database: /, "")
    .replace(/^Error in the underlying connector \([^)]*\): /, "");
  return /[.!?]$/.test(line) ? line : `${line}.`;
}

/**
 * SQL that takes the committed migrations to the current schema; empty when they agree.
 * PostgreSQL needs a server (`serverUrl`) to replay the migrations on a shadow database; SQLite uses memory.
 */
export async function diffMigrationsToSchema(provider: Provider = "sqlite", serverUrl?: string): Promise<string> {
  if (provider === "postgresql" && !serverUrl) throw new Error("Diffing the PostgreSQL migrations needs a PostgreSQL server URL.");
  const { engine, close } = await engineFor(provider, provider === "sqlite" ? "file::memory:" : serverUrl!);
  const schema = readFileSync(schemaPaths[provider], "utf8");
  const list = migrationList(provider);
  const result = await engine
    .diff({
      from: list.migrationDirectories.length ? { tag: "migrations", ...list } : { tag: "empty" },
      to: { tag: "schemaDatamodel", files: [{ path: schemaPaths[provider], content: schema }] },
      script: true,
      exitCode: true,
      filters: noFilter,
    })
    .finally(close);
  return result.exitCode === 2 ? (result.stdout ?? "") : "";
}
