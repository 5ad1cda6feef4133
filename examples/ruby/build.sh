#!/usr/bin/env bash
# "Build" the Ruby smoke client into OUT/ (run it as OUT/smoke): the stubs, and a launcher that
# puts them on the load path. Debian: apt-get install ruby ruby-grpc ruby-google-protobuf
# protobuf-compiler protobuf-compiler-grpc (for grpc_ruby_plugin).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
bash "$HERE/../../scripts/gen_stubs.sh" "$OUT/gen" ruby >/dev/null
cp "$HERE/smoke.rb" "$OUT/smoke.rb"
ruby -c "$OUT/smoke.rb" >/dev/null
# The launcher finds gen/ next to itself, so OUT can be moved after the build.
cat > "$OUT/smoke" <<'LAUNCHER'
#!/bin/sh
here="$(dirname "$0")"
exec ruby -I "$here/gen/ruby" "$here/smoke.rb" "$@"
LAUNCHER
chmod +x "$OUT/smoke"
