#!/usr/bin/env bash
# The one test command (`npm test`): installs what is missing, then runs every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."

stage() { printf '\n=== %s\n' "$*"; }

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    stage "Installing Debian's Chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: run 'apt-get install -y chromium' as root, then run this again." >&2
    exit 1
  fi
fi

if [ "${CI:-}" = "true" ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  stage "Installing npm packages"
  npm ci --no-audit --no-fund
fi

stage "Type check"
npx tsc --noEmit

stage "Schema and migrations agree"
npx tsx scripts/db.ts diff

stage "Unit and integration tests"
npx vitest run

stage "Build"
npx remix vite:build

stage "Browser tests (with and without JavaScript)"
npx playwright test
