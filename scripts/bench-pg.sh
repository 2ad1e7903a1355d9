#!/usr/bin/env bash
# The PostgreSQL benchmarks (`npm run bench:pg`): a private PostgreSQL cluster with the default durability
# settings on 127.0.0.1, then bench/login.ts and bench/sync.ts against fresh databases on it. Extra
# arguments go to both scripts (e.g. --rounds 1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node22.sh
portal_node_ensure
if portal_install_needed; then portal_install; fi
source scripts/pg-cluster.sh
PG_CLUSTER_DURABLE=1 pg_cluster_start
trap pg_cluster_stop EXIT
export BENCH_PG_URL="$TEST_PG_URL"
status=0
npx tsx bench/login.ts --database postgres "$@" || status=$?
npx tsx bench/sync.ts --database postgres "$@" || status=$?
exit "$status"
