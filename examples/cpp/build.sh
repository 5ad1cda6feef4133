#!/usr/bin/env bash
# Build the C++ smoke client into OUT/smoke with Debian's toolchain:
#   apt-get install g++ pkg-config protobuf-compiler protobuf-compiler-grpc libgrpc++-dev libprotobuf-dev
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
bash "$HERE/../../scripts/gen_stubs.sh" "$OUT/gen" cpp >/dev/null
mapfile -t sources < <(find "$OUT/gen/cpp" -name '*.cc' | sort)
mkdir -p "$OUT/obj"
# One object per file, two at a time: grpc++ headers are heavy and the machine may be small.
printf '%s\n' "$HERE/smoke.cc" "${sources[@]}" | xargs -P 2 -I{} sh -c \
  'g++ -std=c++17 -O1 -Wall -I"$1/gen/cpp" $(pkg-config --cflags grpc++ protobuf) -c "$2" -o "$1/obj/$(basename "$2").o"' \
  _ "$OUT" {}
g++ -o "$OUT/smoke" "$OUT"/obj/*.o $(pkg-config --libs grpc++ protobuf)
