import Database from "better-sqlite3";
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "~/generated/prisma/client.ts";
import { env } from "./env.server.ts";
import { createPostgresClient, isPostgresUrl } from "./db-postgres.server.ts";

function createClient() {
  const url = env().DATABASE_URL;
  if (isPostgresUrl(url)) return createPostgresClient(url);
  if (!url.startsWith("file:")) throw new Error("The environment variable DATABASE_URL is invalid: it must start with file: (SQLite) or postgresql://.");
  // better-sqlite3 waits for another connection's lock synchronously: the whole process waits meanwhile.
  const adapter = tuned(new PrismaBetterSqlite3({ url, timeout: env().SQLITE_BUSY_TIMEOUT_MS }));
  return new PrismaClient({ adapter });
}

/** Sets up each connection the adapter opens: pragmas, and statements prepared once. */
function tuned(factory: PrismaBetterSqlite3): PrismaBetterSqlite3 {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    // The adapter keeps its better-sqlite3 connection in `client` and does not expose it otherwise.
    const sqlite = (adapter as unknown as { client?: unknown }).client;
    if (!(sqlite instanceof Database)) throw new Error("The SQLite adapter no longer exposes its connection: update db.server.ts.");
    try {
      // WAL lets readers run beside the single writer; busy_timeout queues writers instead of failing.
      sqlite.pragma("journal_mode = WAL");
      // Syncs at checkpoints rather than at every commit. In WAL mode this never corrupts the file; a power cut
      // (not a crash of the app) can lose the last commits. Explicit, so it does not hang on the driver's build.
      sqlite.pragma("synchronous = NORMAL");
    } catch (error) {
      // Locked by another process: Prisma opens a new connection at the next query, so this one must not stay open.
      sqlite.close();
      throw error;
    }
    reusePreparedStatements(sqlite);
    return outsideTransactions(adapter);
  };
  return factory;
}

type SqliteAdapter = Awaited<ReturnType<PrismaBetterSqlite3["connect"]>>;

/**
 * The adapter runs everything on its one connection, and serializes transactions, but not the statements
 * made outside them: one of those, made while another request's transaction is open (a sync page, a
 * settings change), would run inside it, see its uncommitted rows and be rolled back with it. Here they
 * wait for the open transaction to end instead (test/transactions.test.ts).
 */
export function outsideTransactions(adapter: SqliteAdapter): SqliteAdapter {
  let open: Promise<void> | null = null;
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolationLevel) => {
    // Resolves once the previous transaction ended: the adapter's own lock.
    const tx = await startTransaction(isolationLevel);
    let ended!: () => void;
    open = new Promise<void>((resolve) => (ended = resolve));
    const end = () => {
      open = null;
      ended();
    };
    const commit = tx.commit.bind(tx);
    const rollback = tx.rollback.bind(tx);
    tx.commit = () => commit().finally(end);
    tx.rollback = () => rollback().finally(end);
    return tx;
  };
  const queryRaw = adapter.queryRaw.bind(adapter);
  const executeRaw = adapter.executeRaw.bind(adapter);
  adapter.queryRaw = async (query) => {
    while (open) await open;
    return queryRaw(query);
  };
  adapter.executeRaw = async (query) => {
    while (open) await open;
    return executeRaw(query);
  };
  return adapter;
}

type Args = unknown[];
// What the adapter calls on a prepared statement (queryRaw, executeRaw, BEGIN).
type AdapterStatement = {
  reader: boolean;
  columns(): Database.ColumnDefinition[];
  run(...args: Args): Database.RunResult;
  bind(args: Args): AdapterStatement & { raw(): { all(): unknown[] } };
};

const PREPARED_STATEMENTS_KEPT = 500;

// The adapter asks for the result columns at every query; building them costs more than a lookup by key.
// They are fixed by the statement's text for as long as the schema is: migrations run before the server starts.
const knownColumns = new WeakMap<Database.Statement<Args>, Database.ColumnDefinition[]>();
function columnsOf(statement: Database.Statement<Args>): Database.ColumnDefinition[] {
  let columns = knownColumns.get(statement);
  if (!columns) knownColumns.set(statement, (columns = statement.columns()));
  return columns;
}

/**
 * The adapter prepares every statement anew, which for Prisma's long SQL costs more than running it.
 * Compiled statements are kept by their SQL text instead; since better-sqlite3 binds a statement's
 * arguments only once, each call gets a light wrapper that passes its arguments at run time.
 */
export function reusePreparedStatements(sqlite: Database.Database, keep = PREPARED_STATEMENTS_KEPT) {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement<Args>>();
  const reuse = (sql: string): AdapterStatement => {
    let stmt = cache.get(sql);
    if (!stmt) {
      // Prisma writes IN lists with one placeholder per value, so the number of texts is open-ended.
      if (cache.size >= keep) cache.delete(cache.keys().next().value!);
      stmt = prepare<Args>(sql);
      cache.set(sql, stmt);
    }
    const statement = stmt;
    const columns = () => columnsOf(statement);
    return {
      reader: statement.reader,
      columns,
      run: (...args) => statement.run(...args),
      bind: (args) => ({
        reader: statement.reader,
        columns,
        run: () => statement.run(args),
        raw: () => ({ all: () => statement.raw(true).all(args) }),
        bind: () => {
          throw new TypeError("The bind() method can only be invoked once per statement object");
        },
      }),
    };
  };
  sqlite.prepare = reuse as unknown as typeof sqlite.prepare;
}

const globalForDb = globalThis as unknown as { portalDb?: ReturnType<typeof createClient> };

export const db = (globalForDb.portalDb ??= createClient());

export type Db = typeof db;

/**
 * Throws when the database cannot take queries now (/healthz). On SQLite it asks for the write lock, without
 * writing: another process holding it blocks every sign-in while reads still answer.
 */
export async function checkDatabase() {
  if (isPostgresUrl(env().DATABASE_URL)) await db.$queryRaw`SELECT 1`;
  else await db.$executeRaw`UPDATE "_prisma_migrations" SET "id" = "id" WHERE 0`;
}
