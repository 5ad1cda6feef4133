#!/usr/bin/env bash
# Build the Java smoke client into OUT/ (run it as OUT/smoke) with Debian's jars, offline:
#   apt-get install default-jdk-headless protobuf-compiler protobuf-compiler-grpc-java-plugin \
#     libgrpc-java libprotobuf-java libnetty-java libperfmark-java libgoogle-gson-java \
#     libgeronimo-annotation-1.3-spec-java
# (JDK 17 has no javax.annotation.Generated, which grpc_java_plugin's code uses: the geronimo jar.)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mkdir -p "$1" && cd "$1" && pwd)"
bash "$HERE/../../scripts/gen_stubs.sh" "$OUT/gen" java >/dev/null
jars=(protobuf grpc-api grpc-context grpc-core grpc-stub grpc-protobuf grpc-protobuf-lite grpc-netty
  guava error_prone_annotations perfmark-api gson geronimo-annotation-1.3-spec
  netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-codec-socks netty-common
  netty-handler netty-handler-proxy netty-resolver netty-transport netty-transport-native-unix-common)
classpath=""
for jar in "${jars[@]}"; do
  [ -f "/usr/share/java/$jar.jar" ] || { echo "java: /usr/share/java/$jar.jar is missing" >&2; exit 1; }
  classpath+="${classpath:+:}/usr/share/java/$jar.jar"
done
rm -rf "$OUT/classes"
mapfile -t sources < <(find "$OUT/gen/java" -name '*.java' | sort)
javac -nowarn -d "$OUT/classes" -cp "$classpath" "$HERE/Smoke.java" "${sources[@]}"
# The launcher finds classes/ next to itself, so OUT can be moved after the build.
cat > "$OUT/smoke" <<LAUNCHER
#!/bin/sh
exec java -cp "\$(dirname "\$0")/classes:$classpath" Smoke "\$@"
LAUNCHER
chmod +x "$OUT/smoke"
