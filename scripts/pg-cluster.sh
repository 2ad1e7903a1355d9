# Sourced by scripts/test-all.sh: a throwaway PostgreSQL cluster on 127.0.0.1, a spare port and a temporary
# folder, for the PostgreSQL test run. Exports TEST_PG_URL; pg_cluster_stop removes everything.
# initdb refuses to run as root, so as root the cluster runs as `nobody`.

pg_cluster_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

pg_cluster_start() {
  PG_BIN="${PG_BIN:-$(pg_cluster_bin)}"
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "Installing Debian's PostgreSQL for the PostgreSQL tests"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
      PG_BIN="$(pg_cluster_bin)"
    else
      echo "PostgreSQL is missing: run 'apt-get install -y postgresql' as root (or set TEST_PG_URL), then run this again." >&2
      exit 1
    fi
  fi
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/portal-pg.XXXXXX")"
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$PG_DIR"
    as=(runuser -u nobody --)
  fi
  local port
  port="$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
  "${as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log"
  # Durability is not wanted for throwaway test data; these make CREATE DATABASE and commits cheap.
  # PG_CLUSTER_DURABLE=1 (the benchmarks) keeps PostgreSQL's defaults, as a production server has them.
  local fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PG_CLUSTER_DURABLE:-}" = 1 ] && fast=""
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -s start \
    -o "-h 127.0.0.1 -p $port -k $PG_DIR $fast -c max_connections=300"
  export TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  PG_AS=("${as[@]}")
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on $TEST_PG_URL"
}

pg_cluster_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -s stop || true
  fi
  [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
}
