#!/usr/bin/env bash
# Build the Java client's jar, OUT/quota-sidecar-client-<version>.jar, from the committed
# generated sources (src/main/java) against Debian's grpc-java and protobuf-java, offline:
#   apt-get install default-jdk-headless libgrpc-java libprotobuf-java libgoogle-guava-java \
#     libgeronimo-annotation-1.3-spec-java
# It is what `mvn package` makes of pom.xml (which goes inside, under META-INF/maven, so
# `mvn install:install-file -Dfile=OUT/quota-sidecar-client-<version>.jar` installs it with its
# dependencies). Prints the jar's path.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(mkdir -p "${1:?usage: clients/java/build_jar.sh OUT}" && cd "$1" && pwd)"
version="$(sed -n '0,/^  <version>/s#^  <version>\([^<]*\)</version>#\1#p' "$HERE/pom.xml")"
group="dev.quotasidecar" artifact="quota-sidecar-client"
# What the generated code compiles against (the pom's compile and provided dependencies).
jars=(protobuf grpc-api grpc-stub grpc-protobuf grpc-protobuf-lite guava geronimo-annotation-1.3-spec)
classpath=""
for jar in "${jars[@]}"; do
  [ -f "/usr/share/java/$jar.jar" ] || { echo "java: /usr/share/java/$jar.jar is missing" >&2; exit 1; }
  classpath+="${classpath:+:}/usr/share/java/$jar.jar"
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mapfile -t sources < <(find "$HERE/src/main/java" -name '*.java' | sort)
javac -nowarn --release 11 -encoding UTF-8 -d "$work/classes" -cp "$classpath" "${sources[@]}"
meta="$work/classes/META-INF/maven/$group/$artifact"
mkdir -p "$meta"
cp "$HERE/pom.xml" "$meta/pom.xml"
printf 'groupId=%s\nartifactId=%s\nversion=%s\n' "$group" "$artifact" "$version" > "$meta/pom.properties"
jar_file="$OUT/$artifact-$version.jar"
rm -f "$jar_file"
jar --create --file "$jar_file" -C "$work/classes" .
echo "$jar_file"
