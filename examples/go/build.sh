#!/usr/bin/env bash
# Build the Go smoke client into OUT/smoke with Debian's toolchain, offline:
#   apt-get install golang-go protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev \
#     golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
# GOPATH mode (GO111MODULE=off) finds grpc-go and protobuf in /usr/share/gocode, so no module
# proxy is needed. (With network access, use gen/go/go.mod from `make stubs` in module mode.)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
bash "$HERE/../../scripts/gen_stubs.sh" "$OUT/gen" go >/dev/null
module="$(sed -n 's/^module //p' "$OUT/gen/go/go.mod")"
gopath="$OUT/gopath"
rm -rf "$gopath" && mkdir -p "$gopath/src/$(dirname "$module")" "$gopath/src/smoke"
cp -r "$OUT/gen/go" "$gopath/src/$module"
cp "$HERE/main.go" "$gopath/src/smoke/main.go"
cd "$gopath/src/smoke"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" go build -o "$OUT/smoke" .
