// Migrates one template database per test run (a SQLite file, or a PostgreSQL database with
// TEST_DATABASE=postgres); each test file then copies it (test/setup.ts).
// Also makes the stand-in's certificate, trusted by every test process through NODE_EXTRA_CA_CERTS.
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { TestProject } from "vitest/node";
import { deployMigrations } from "../app/lib/migrate.server.ts";
import { ensureCertificate } from "./entra/cert.ts";
import { databaseFrom, dropDatabases, usePostgres } from "./pg.ts";

declare module "vitest" {
  export interface ProvidedContext {
    testDir: string;
    standinCertDir: string;
    /** With TEST_DATABASE=postgres: the migrated template database that test files copy. */
    pgTemplate: string;
  }
}

export default async function setup(project: TestProject) {
  // One folder per run, so that runs side by side never share files.
  const dir = path.resolve(".tmp/test", `run-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  let dropTemplates = async () => {};
  if (usePostgres) {
    // Names of this run's databases share a prefix, so that teardown finds the test files' copies too.
    const prefix = `t${process.pid}_${Date.now()}`;
    const template = `${prefix}_template`;
    await deployMigrations(await databaseFrom("template1", template));
    project.provide("pgTemplate", template);
    dropTemplates = () => dropDatabases(prefix);
  } else {
    const template = path.join(dir, "template.db");
    await deployMigrations(`file:${template}`);
    // Fold the write-ahead log into the file so that a plain copy has every table.
    const db = new Database(template);
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.pragma("journal_mode = DELETE");
    db.close();
  }
  project.provide("testDir", dir);

  // Node reads NODE_EXTRA_CA_CERTS only at process start: set it here, before the test workers fork.
  const certDir = path.join(dir, "standin");
  const { certPath } = ensureCertificate(certDir);
  process.env.NODE_EXTRA_CA_CERTS = certPath;
  project.provide("standinCertDir", certDir);
  return async () => {
    rmSync(dir, { recursive: true, force: true });
    await dropTemplates();
  };
}
