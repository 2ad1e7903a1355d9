#!/usr/bin/env bash
# `npm run demo`, `npm start`, `npm run portal -- …` and the other scripts of package.json come through here:
# Node 22 first on PATH (scripts/node22.sh), npm packages installed for it when missing or stale, then the
# command. So `npm run demo` works on a fresh machine whose own Node is older.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node22.sh
portal_node_ensure
if portal_install_needed; then
  echo "Installing npm packages for Node $(node -v)"
  portal_install >&2
fi
exec "$@"
