#!/usr/bin/env bash
# Install, from Debian's archive, the toolchains the other-language smoke clients need
# (tests/integration/languages/test_other_languages.py, examples/<lang>/build.sh), the client
# packages' (tests/integration/packages, scripts/gen_code.sh: Go, Java, Node.js; npm installs
# buf and protoc-gen-es from tools/buf's lock), the Node example's, the dashboard's browser tests'
# (tests/integration/dashboard: chromium and its chromium-driver, the same Debian version so the
# driver always matches the browser), the container image's build (`make image`: buildah,
# debootstrap) and the alert rules' check (promtool).
# Idempotent and quick when everything is there: a command already on PATH (a JDK or a Node.js
# from elsewhere) or a library package already installed is left alone, and `apt-get update`
# runs only when something is missing. A toolchain that cannot be installed fails CI with a
# message naming its language; it is never skipped.
set -euo pipefail

# language  what must be there (cmd:NAME on PATH, or the package itself installed)  package
NEEDS=(
  "cpp  cmd:g++                 g++"
  "cpp  cmd:pkg-config          pkg-config"
  "cpp  cmd:protoc              protobuf-compiler"
  "cpp  cmd:grpc_cpp_plugin     protobuf-compiler-grpc"
  "cpp  pkg                     libgrpc++-dev"
  "cpp  pkg                     libprotobuf-dev"
  "go   cmd:go                  golang-go"
  "go   cmd:protoc-gen-go       protoc-gen-go"
  "go   cmd:protoc-gen-go-grpc  protoc-gen-go-grpc"
  "go   pkg                     golang-google-grpc-dev"
  "go   pkg                     golang-google-protobuf-dev"
  "go   pkg                     golang-github-golang-protobuf-1-5-dev"
  "java cmd:javac               default-jdk-headless"
  "java cmd:grpc_java_plugin    protobuf-compiler-grpc-java-plugin"
  "java pkg                     libgrpc-java"
  "java pkg                     libprotobuf-java"
  "java pkg                     libnetty-java"
  "java pkg                     libperfmark-java"
  "java pkg                     libgoogle-gson-java"
  "java pkg                     libgeronimo-annotation-1.3-spec-java"
  "java pkg                     libguava-java"
  "ruby cmd:ruby                ruby"
  "ruby cmd:grpc_ruby_plugin    protobuf-compiler-grpc"
  "ruby pkg                     ruby-grpc"
  "ruby pkg                     ruby-google-protobuf"
  "node cmd:node                nodejs"
  "node cmd:npm                 npm"
  "dashboard cmd:chromium       chromium"
  "dashboard cmd:chromedriver   chromium-driver"
  "image cmd:buildah            buildah"
  "image cmd:debootstrap        debootstrap"
  "image cmd:strip              binutils"
  "image cmd:unshare            util-linux"
  "ops  cmd:promtool            prometheus"
)

present() { # $1: cmd:NAME or pkg; $2: the package
  case "$1" in
    cmd:*) command -v "${1#cmd:}" >/dev/null ;;
    *) [ "$(dpkg-query -W -f='${Status}' "$2" 2>/dev/null)" = "install ok installed" ] ;;
  esac
}

missing_packages() { # prints "lang package" for every need not met
  local lang check package
  for need in "${NEEDS[@]}"; do
    read -r lang check package <<<"$need"
    present "$check" "$package" || echo "$lang $package"
  done
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -eq 0 ]; then
  echo "toolchains: C++, Go, Java, Ruby, Node.js, chromium, buildah and promtool are installed"
  exit 0
fi
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | awk '{print $2}' | sort -u)

fail() {
  local langs
  langs="$(missing_packages | awk '{print $1}' | sort -u | tr '\n' ' ')"
  echo "toolchains: $1; cannot build the client(s) for: ${langs:-?}(packages: ${packages[*]})" >&2
  exit 1
}
command -v apt-get >/dev/null && command -v dpkg-query >/dev/null || fail "not a Debian machine"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "root (or sudo) is needed to install packages"
  sudo="sudo"
fi
echo "toolchains: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || fail "apt-get update failed"
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" || fail "apt-get install failed"
[ -z "$(missing_packages)" ] || fail "still missing after apt-get install"
echo "toolchains: installed"
