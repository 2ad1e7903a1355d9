// Runs `prisma generate` after install. Prisma 7's CLI looks for its native schema engine before
// generating, although generation itself is WASM; where that engine could not be downloaded
// (offline machines), point the check at an existing file. See docs/decisions/001-prisma-offline.md.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(import.meta.url);
env.PRISMA_HIDE_UPDATE_MESSAGE = "1";
execFileSync("npx", ["prisma", "generate"], { stdio: "inherit", env });
