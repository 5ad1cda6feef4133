#!/usr/bin/env bash
# The contract's guard, with the buf pinned in tools/buf (installed from its lock by `npm ci`):
#   scripts/contract.sh check      buf lint, then buf breaking against the last released contract
#                                  (the newest protos/released/v*.binpb); part of `make lint`
#   scripts/contract.sh tools      only install the pinned tools (scripts/gen_code.sh's protoc-gen-es)
#   scripts/contract.sh release    write protos/released/v<version>.binpb from protos/ (version:
#                                  pyproject.toml's), the image the next changes are checked against
# The rules, and every exception to them, are in buf.yaml.
set -euo pipefail
mode=${1:?usage: scripts/contract.sh check|tools|release}
top=$(cd "$(dirname "$0")/.." && pwd)
tools="$top/tools/buf"
buf="$tools/node_modules/.bin/buf"

# npm ci when node_modules is missing or older than the lock (a changed pin reinstalls).
ensure_tools() {
  command -v npm >/dev/null || { echo "contract: needs node and npm (apt-get install nodejs npm)" >&2; exit 1; }
  if [ ! -x "$buf" ] || [ "$tools/package-lock.json" -nt "$tools/node_modules/.installed" ]; then
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$tools/node_modules/.installed"
  fi
}

version() { sed -n 's/^version = "\([^"]*\)"/\1/p' "$top/pyproject.toml" | head -1; }

last_released() { # the newest image by version number, not by name
  find "$top/protos/released" -name 'v*.binpb' | sort -V | tail -1
}

ensure_tools
cd "$top"
case $mode in
  check)
    "$buf" lint
    against="$(last_released)"
    [ -n "$against" ] || { echo "contract: no released image in protos/released" >&2; exit 1; }
    # buf.yaml's one exception is for the v0.1.0 baseline only (see there).
    if grep -q '^ *- FILE_SAME_GO_PACKAGE' buf.yaml && [ "${against##*/}" != v0.1.0.binpb ]; then
      echo "contract: buf.yaml still excepts FILE_SAME_GO_PACKAGE, meant for v0.1.0 only" >&2
      exit 1
    fi
    "$buf" breaking --against "$against" \
      || { echo "contract: breaks the released ${against##*/} (see above; buf.yaml)" >&2; exit 1; }
    echo "contract: lint clean, compatible with ${against##*/}"
    ;;
  tools) ;;
  release)
    image="protos/released/v$(version).binpb"
    [ ! -e "$image" ] || { echo "contract: $image exists: a release is never rewritten" >&2; exit 1; }
    "$buf" lint
    "$buf" build --exclude-source-info -o "$image"
    echo "contract: wrote $image"
    ;;
  *) echo "usage: scripts/contract.sh check|tools|release" >&2; exit 2 ;;
esac
