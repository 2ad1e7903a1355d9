#!/usr/bin/env bash
# The one test command (`npm test`): installs what is missing, then runs every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage prints the seconds since the start, so that a slow stage shows in CI logs.
stage() { printf '\n=== %s (at %ds)\n' "$*" "$SECONDS"; }

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

# Node 22 LTS: this machine's own when it is new enough, else the npm registry's package under .cache/.
source scripts/node22.sh
portal_node_ensure
stage "Node $(node -v)"

if [ "${CI:-}" = "true" ] || portal_install_needed; then
  stage "Installing npm packages"
  portal_install
fi

stage "Type check"
npx tsc --noEmit

# ESLint carries the sign-in core's layer rules (eslint.config.js); Prettier keeps one layout.
stage "Lint and format"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "Run 'npm run format' to lay these files out." >&2; exit 1; }

# A private PostgreSQL cluster for the PostgreSQL checks, unless TEST_PG_URL names a server already.
if [ -z "${TEST_PG_URL:-}" ]; then
  stage "Starting a private PostgreSQL cluster"
  source scripts/pg-cluster.sh
  pg_cluster_start
  trap pg_cluster_stop EXIT
fi

stage "Schema and migrations agree (SQLite and PostgreSQL)"
npx tsx scripts/db.ts diff

# Before vitest: the two-instance test (PostgreSQL) starts the built server.
stage "Build"
npx remix vite:build

stage "Unit and integration tests (SQLite)"
npx vitest run

stage "Unit and integration tests (PostgreSQL)"
TEST_DATABASE=postgres npx vitest run

stage "Browser tests (with and without JavaScript)"
npx playwright test

stage "Done"
