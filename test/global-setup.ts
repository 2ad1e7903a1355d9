// Migrates one template database per test run; each test file then copies it (test/setup.ts).
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { TestProject } from "vitest/node";
import { deployMigrations } from "../app/lib/migrate.server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    testDir: string;
  }
}

export default async function setup(project: TestProject) {
  // One folder per run, so that runs side by side never share files.
  const dir = path.resolve(".tmp/test", `run-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const template = path.join(dir, "template.db");
  await deployMigrations(`file:${template}`);
  // Fold the write-ahead log into the file so that a plain copy has every table.
  const db = new Database(template);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.pragma("journal_mode = DELETE");
  db.close();
  project.provide("testDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
