# Sourced by scripts/run.sh and scripts/test-all.sh: makes sure the portal runs on Node 22 LTS (decision 017).
# A machine whose own `node` is 22 or newer uses it. An older one gets Node 22 from the npm registry's
# node-linux-<arch> package (the official binary with its headers) under .cache/, put first on PATH, with
# npm_config_nodedir pointing at its headers so that native modules (better-sqlite3) build against it offline.
# The node_modules of one Node version do not run on another: scripts/run.sh and test-all.sh reinstall when
# the Node that installed them (node_modules/.node-version) is not the one that runs now.

PORTAL_NODE_VERSION=22.23.5

portal_node_major() {
  "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

portal_node_ensure() {
  if [ "$(portal_node_major)" -ge 22 ]; then
    # Native modules build against this Node's own headers when it has them (official and Debian layouts), so
    # that node-gyp neither downloads headers nor picks up another Node's.
    local prefix
    prefix="$(cd "$(dirname "$(command -v node)")/.." && pwd)"
    if [ -f "$prefix/include/node/node_version.h" ]; then export npm_config_nodedir="$prefix"; fi
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      echo "This machine's Node is $(node -v 2>/dev/null || echo missing) and there is no Node 22 package for $(uname -m): install Node 22 LTS, then run this again." >&2
      return 1
      ;;
  esac
  local root="$PWD/.cache/node-$PORTAL_NODE_VERSION"
  if [ ! -x "$root/bin/node" ]; then
    echo "This machine's Node is $(node -v 2>/dev/null || echo missing); installing Node $PORTAL_NODE_VERSION for the portal under .cache/"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$PORTAL_NODE_VERSION" >/dev/null) || {
      rm -rf "$tmp"
      echo "Could not download Node $PORTAL_NODE_VERSION (the node-linux-$arch package): install Node 22 LTS, then run this again." >&2
      return 1
    }
    mkdir -p "$root.partial"
    tar xzf "$tmp"/node-linux-*.tgz -C "$root.partial" --strip-components=1
    rm -rf "$tmp" "$root"
    mv "$root.partial" "$root"
  fi
  export PATH="$root/bin:$PATH"
  export npm_config_nodedir="$root"
}

# True when node_modules is missing, older than the lock file, or was installed by another Node version.
portal_install_needed() {
  [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
    [ "$(cat node_modules/.node-version 2>/dev/null)" != "$(node -v)" ]
}

portal_install() {
  npm ci --no-audit --no-fund
  node -v >node_modules/.node-version
}
