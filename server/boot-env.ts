// The environment, read before anything else loads: server/index.ts imports this module first, so a wrong
// variable stops the server with its sentence before any module that reads the environment while loading (the
// database client does) can throw it with a backtrace. ES modules run in the order they are imported.
import { env as loadEnv, type Env } from "../app/lib/env.server.ts";
import { log } from "../app/lib/log.server.ts";

function bootEnv(): Env {
  try {
    return loadEnv();
  } catch (error) {
    // The sentence alone, so that it reads the same in JSON and through pino-pretty.
    log.fatal((error as Error).message);
    process.exit(1);
  }
}

export const env = bootEnv();
