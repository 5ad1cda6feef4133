#!/usr/bin/env bash
# Every piece of generated code this repository commits, from protos/, by one script:
#   scripts/gen_code.sh write    regenerate it in place (`make protos`)
#   scripts/gen_code.sh check    regenerate into a scratch folder and fail on any difference, or on
#                                a client manifest whose version is not pyproject.toml's
#                                (`make check-protos`, part of `make test`)
#
#   quota_sidecar/v1/                 Python messages, services, .pyi (scripts/gen_protos.py)
#   clients/go/go.mod, quotasidecarv1/   the Go module (protoc-gen-go, protoc-gen-go-grpc)
#   clients/node/gen/                 the Node.js package's JavaScript and .d.ts (protoc-gen-es,
#                                     pinned in tools/buf)
#   clients/java/src/main/java/       the Java client's sources (protoc, grpc_java_plugin)
# and stamps the version of pyproject.toml into clients/node/package.json,
# clients/java/pom.xml and clients/python/pyproject.toml, so the version has one place.
# Never edit any of it by hand. Tools: the venv's grpc_tools, and Debian's protoc, protoc-gen-go,
# protoc-gen-go-grpc and grpc_java_plugin (scripts/ci_install_toolchains.sh installs them).
set -euo pipefail
mode=${1:?usage: scripts/gen_code.sh write|check}
top=$(cd "$(dirname "$0")/.." && pwd)
PYTHON="${PYTHON:-$top/.venv/bin/python}"
GENERATED=(quota_sidecar/v1 clients/go/go.mod clients/go/quotasidecarv1 clients/node/gen
  clients/java/src/main/java)
MANIFESTS=(clients/node/package.json clients/java/pom.xml clients/python/pyproject.toml)

version() { sed -n 's/^version = "\([^"]*\)"/\1/p' "$top/pyproject.toml" | head -1; }

# The version each manifest states, one line each ("path version").
manifest_versions() {
  echo "clients/node/package.json $(sed -n 's/^  "version": "\([^"]*\)",/\1/p' "$top/clients/node/package.json")"
  echo "clients/java/pom.xml $(sed -n '0,/<version>/s#^  <version>\([^<]*\)</version>#\1#p' "$top/clients/java/pom.xml")"
  echo "clients/python/pyproject.toml $(sed -n 's/^version = "\([^"]*\)"/\1/p' "$top/clients/python/pyproject.toml")"
}

stamp_versions() {
  local v
  v="$(version)"
  sed -i "s/^  \"version\": \"[^\"]*\",/  \"version\": \"$v\",/" "$top/clients/node/package.json"
  sed -i "0,/^  <version>/s#^  <version>[^<]*</version>#  <version>$v</version>#" "$top/clients/java/pom.xml"
  sed -i "s/^version = \"[^\"]*\"/version = \"$v\"/" "$top/clients/python/pyproject.toml"
}

generate() { # $1: the root to write the generated paths under
  local root="$1" scratch files
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' RETURN
  "$PYTHON" "$top/scripts/gen_protos.py" "$root/quota_sidecar/v1"
  # Go and Java as scripts/gen_stubs.sh makes them (one generator for `make stubs` and these).
  PYTHON="$PYTHON" bash "$top/scripts/gen_stubs.sh" "$scratch/stubs" go java >/dev/null
  mkdir -p "$root/clients/go" "$root/clients/java/src/main"
  rm -rf "$root/clients/go/quotasidecarv1" "$root/clients/java/src/main/java" "$root/clients/node/gen"
  cp "$scratch/stubs/go/go.mod" "$root/clients/go/go.mod"
  cp -r "$scratch/stubs/go/quotasidecarv1" "$root/clients/go/quotasidecarv1"
  cp -r "$scratch/stubs/java" "$root/clients/java/src/main/java"
  bash "$top/scripts/contract.sh" tools
  mkdir -p "$root/clients/node/gen"
  mapfile -t files < <(cd "$top/protos" && find quota_sidecar -name '*.proto' | sort)
  protoc -I "$top/protos" --plugin=protoc-gen-es="$top/tools/buf/node_modules/.bin/protoc-gen-es" \
    --es_out="$root/clients/node/gen" --es_opt=target=js+dts,import_extension=js "${files[@]}"
}

case $mode in
  write)
    generate "$top"
    stamp_versions
    ;;
  check)
    check="$top/.gen-check"
    rm -rf "$check" && mkdir -p "$check"
    generate "$check"
    stale=""
    for path in "${GENERATED[@]}"; do
      diff -r -x __pycache__ "$check/$path" "$top/$path" >&2 || stale=yes
    done
    rm -rf "$check"
    wrong="$(manifest_versions | awk -v v="$(version)" '$2 != v')"
    [ -z "$wrong" ] || { echo "not version $(version) (pyproject.toml): $wrong" >&2; stale=yes; }
    [ -z "$stale" ] || { echo "generated code is stale: run 'make protos'" >&2; exit 1; }
    echo "generated code: up to date"
    ;;
  *) echo "usage: scripts/gen_code.sh write|check" >&2; exit 2 ;;
esac
