#!/usr/bin/env bash
# Re-fetch the dashboard's third-party JS from npm at its pinned version, checked against the
# pinned integrity hash, into quota_sidecar/dashboard/static/vendor/ with its licence file.
# The result is committed: nothing runs at install time and the page needs no CDN. Run this only
# to move to another version (change UPLOT_VERSION and UPLOT_INTEGRITY together).
set -euo pipefail
cd "$(dirname "$0")/.."

UPLOT_VERSION="1.6.32"
UPLOT_INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
DEST="quota_sidecar/dashboard/static/vendor/uplot"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@${UPLOT_VERSION}" >/dev/null)
tarball="$work/uplot-${UPLOT_VERSION}.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$UPLOT_INTEGRITY" ]; then
  echo "vendor: uplot-${UPLOT_VERSION}.tgz has integrity $actual, expected $UPLOT_INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$DEST"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$DEST/"
cp "$work/package/LICENSE" "$DEST/LICENSE"
printf 'uplot %s from npm (npm pack uplot@%s), integrity %s\n' \
  "$UPLOT_VERSION" "$UPLOT_VERSION" "$UPLOT_INTEGRITY" >"$DEST/VERSION"
echo "vendor: uplot ${UPLOT_VERSION} -> $DEST"
