#!/usr/bin/env bash
# Starts the Microsoft stand-in and the built portal for the e2e run on a fresh database
# (environment from playwright.config.ts). The stand-in stops when the portal does.
set -euo pipefail
rm -rf "$E2E_DIR" && mkdir -p "$E2E_DIR"
[ -f build/server/index.js ] || npx remix vite:build
node --import tsx scripts/db.ts deploy

node --import tsx test/entra/main.ts --port "$STANDIN_PORT" --cert-dir "$E2E_DIR/standin" > "$E2E_DIR/standin.log" 2>&1 &
standin=$!
trap 'kill $standin 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -f "$E2E_DIR/standin/cert.pem" ] && curl -sf --cacert "$E2E_DIR/standin/cert.pem" "https://localhost:$STANDIN_PORT/_standin/health" >/dev/null && break
  sleep 0.1
done

NODE_EXTRA_CA_CERTS="$E2E_DIR/standin/cert.pem" node --import tsx server/index.ts
