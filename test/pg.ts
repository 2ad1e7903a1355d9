// PostgreSQL for the test suite (TEST_DATABASE=postgres, TEST_PG_URL=postgresql://… a server we may create
// databases on): one migrated template per run, one database per test file copied from it.
import pg from "pg";
import { withDatabase } from "../app/lib/migrate.server.ts";

export const usePostgres = process.env.TEST_DATABASE === "postgres";

export function serverUrl(): string {
  const url = process.env.TEST_PG_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url))
    throw new Error("TEST_DATABASE=postgres needs TEST_PG_URL=postgresql://user@host:port/postgres, a server where databases can be created.");
  return url;
}

export async function onServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new database copied from `template` (a plain copy of its files: no migration runs). */
export async function databaseFrom(template: string, name: string): Promise<string> {
  await onServer((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return withDatabase(serverUrl(), name);
}

/** Drops every database whose name starts with `prefix` (a run's template and its copies). */
export async function dropDatabases(prefix: string) {
  await onServer(async (c) => {
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [prefix]);
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  });
}
