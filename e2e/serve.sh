#!/usr/bin/env bash
# Starts the built portal for the e2e run on a fresh database (environment from playwright.config.ts).
set -euo pipefail
rm -rf "$E2E_DIR" && mkdir -p "$E2E_DIR"
[ -f build/server/index.js ] || npx remix vite:build
node --import tsx scripts/db.ts deploy
exec node --import tsx server/index.ts
