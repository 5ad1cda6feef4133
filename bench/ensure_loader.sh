#!/bin/sh
# The compiled load generator is h2load (Debian's nghttp2-client). Install it when it is missing
# and we are root with apt; otherwise the bench falls back to its Python multi-process loader.
command -v h2load >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing nghttp2-client (h2load) ..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client) \
    >/dev/null 2>&1 || true
fi
command -v h2load >/dev/null 2>&1 || echo "h2load unavailable: the Python multi-process loader will be used"
exit 0
