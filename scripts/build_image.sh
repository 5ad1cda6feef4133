#!/usr/bin/env bash
# The quota-sidecar OCI image (README "Install"), built on this machine with no container daemon
# and no registry pull: buildah from scratch (vfs storage, chroot isolation), a Debian bookworm
# minbase root from debootstrap with Debian's python3, and the sidecar's locked runtime
# (requirements/run.txt, hashed) plus its own wheel, resolved for the image's interpreter.
#
#   scripts/build_image.sh     build, then write build/quota-sidecar-<version>.oci.tar (what
#                              `podman load` / `docker load` read); prints the archive's path
#   FORCE=1                    rebuild even when nothing it is made from changed
#   DEBIAN_MIRROR=URL          the mirror debootstrap uses (default: the machine's apt source)
#
# Idempotent and cached: the debootstrap root is kept in .image-cache/ (git-ignored), and the
# whole build is skipped when the archive exists and its inputs (this script, the lock,
# pyproject.toml, README.md, quota_sidecar/ and the commit) are what it was built from.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

name=quota-sidecar
# The one version (pyproject.toml [project] version): the package, the contract, the image tag.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n1)
[ -n "$version" ] || { echo "build_image: no version in pyproject.toml" >&2; exit 1; }
image="localhost/$name:$version"
archive=${IMAGE_ARCHIVE:-build/$name-$version.oci.tar}
cache=$top/.image-cache
python=${PYTHON:-$top/.venv/bin/python}
uv=${UV:-$top/.venv/bin/uv}
source_url=${IMAGE_SOURCE:-https://github.com/quota-sidecar/quota-sidecar}
suite=bookworm
# minbase plus Debian's python3 and the CA bundle (rediss:// and webhook POSTs verify with it).
packages=python3,ca-certificates
uid=10001
data_dir=/var/lib/quota-sidecar
site=/usr/local/lib/python3.11/dist-packages  # on Debian python3's sys.path

need() { command -v "$1" >/dev/null || { echo "build_image: $1 is missing ($2)" >&2; exit 1; }; }
need buildah "apt-get install buildah"
need debootstrap "apt-get install debootstrap"
need strip "apt-get install binutils"
[ -x "$python" ] && [ -x "$uv" ] || { echo "build_image: run 'make venv' first" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "build_image: debootstrap and buildah mount need root" >&2; exit 1; }

# Our own storage, beside the cache: another build on this machine never sees these images.
buildah=(buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot

inputs=(scripts/build_image.sh requirements/run.txt pyproject.toml README.md quota_sidecar)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- "${inputs[@]}" 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
key=$({
  echo "$version $revision $suite $packages"
  find "${inputs[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 \
    | sort -z | xargs -0 sha256sum
} | sha256sum | cut -d' ' -f1)
if [ -z "${FORCE:-}" ] && [ -f "$archive" ] && [ "$(cat "$archive.inputs" 2>/dev/null)" = "$key" ]; then
  echo "build_image: $archive is up to date ($image)" >&2
  echo "$archive"
  exit 0
fi

mirror() {  # the Debian archive this machine's apt uses, else Debian's own
  local found
  found=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
            2>/dev/null | grep -oE '(https?|file)://[^ ]*/debian/?' | head -n1 || true)
  echo "${DEBIAN_MIRROR:-${found:-http://deb.debian.org/debian}}"
}

# 1. The Debian root, once: debootstrap takes about a minute; every later build copies it.
root_cache="$cache/rootfs-$suite-$(echo "$packages" | sha256sum | cut -c1-12)"
if [ ! -f "$root_cache/.complete" ]; then
  echo "build_image: debootstrap $suite (minbase, $packages) from $(mirror)" >&2
  rm -rf "$root_cache.tmp"
  mkdir -p "$cache"
  debootstrap --variant=minbase --include="$packages" "$suite" "$root_cache.tmp" "$(mirror)" \
    >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
  touch "$root_cache.tmp/.complete"
  rm -rf "$root_cache" && mv "$root_cache.tmp" "$root_cache"
fi

work=$(mktemp -d)
ctr=""
cleanup() {
  [ -n "$ctr" ] && "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# 2. Our wheel, from a clean copy of the sources (an in-tree build would leave build/lib behind
#    and could carry a module deleted since).
mkdir -p "$work/src" "$work/wheel"
cp pyproject.toml README.md "$work/src/"
cp -r quota_sidecar "$work/src/"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
"$python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$work/wheel" "$work/src" \
  >"$work/wheel.log" 2>&1 || { cat "$work/wheel.log" >&2; exit 1; }

# 3. The container: the cached root, the locked runtime and the wheel, a user, and nothing else.
ctr=$("${buildah[@]}" from --name "$name-build-$$" scratch)
mnt=$("${buildah[@]}" mount "$ctr")
cp -a "$root_cache/." "$mnt/"
rm -f "$mnt/.complete"
interpreter=$(chroot "$mnt" /usr/bin/python3 -c 'import platform; print(platform.python_version())')
# Resolved for the image's interpreter (bookworm's 3.11.2 needs async-timeout; the host's may not),
# hashes checked, copied (not hard-linked from uv's cache) into the root.
"$uv" pip install --quiet --require-hashes --no-deps --link-mode copy \
  --python-version "$interpreter" --python-platform x86_64-manylinux_2_36 \
  --target "$mnt$site" -r requirements/run.txt
"$uv" pip install --quiet --no-deps --link-mode copy \
  --python-version "$interpreter" --python-platform x86_64-manylinux_2_36 \
  --target "$mnt$site" "$work"/wheel/*.whl
rm -rf "$mnt$site/bin"  # console scripts with the host's interpreter in their #! line
cat >"$mnt/usr/local/bin/quota-sidecar" <<'EOF'
#!/usr/bin/python3
import sys

from quota_sidecar.cli import main

if __name__ == "__main__":
    sys.exit(main())
EOF
chmod 0755 "$mnt/usr/local/bin/quota-sidecar"

# The sidecar's user (the manifests' runAsUser), owning only its data dir: the root stays
# read-only for it, and --data-dir (the spool, the embedded Redis) is the volume.
echo "$name:x:$uid:$uid:quota-sidecar:$data_dir:/usr/sbin/nologin" >>"$mnt/etc/passwd"
echo "$name:x:$uid:" >>"$mnt/etc/group"
echo "$name:*:19000:0:99999:7:::" >>"$mnt/etc/shadow"
install -d -m 0750 -o "$uid" -g "$uid" "$mnt$data_dir"

# 4. Slim: what only apt, a human or a writable root would use.
(
  cd "$mnt"
  rm -rf var/lib/apt/lists/* var/cache/apt/* var/cache/debconf/*-old var/lib/dpkg/*-old \
    var/log/* tmp/* dev/* \
    usr/share/man usr/share/info usr/share/lintian usr/share/linda usr/share/bash-completion \
    usr/share/zsh usr/share/common-licenses usr/share/i18n usr/share/doc-base \
    usr/lib/python3.11/ensurepip usr/lib/python3.11/idlelib usr/lib/python3.11/pydoc_data \
    usr/lib/python3.11/lib2to3 usr/lib/python3.11/turtledemo usr/lib/python3.11/tkinter
  # Docs, but each package's copyright file (its licence) stays.
  find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
  find usr/share/doc -mindepth 1 -type d -empty -delete
  find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  # Bytecode: the read-only root could never refresh it; sources compile in memory at start.
  find . -xdev -name __pycache__ -prune -exec rm -rf {} +
  find . -xdev -name '*.pyc' -delete
  # Debug symbols: the wheels' extension modules carry them (uvloop's 13 MB are 1.6 MB without).
  find ".$site" -name '*.so' -exec strip --strip-unneeded {} +
  find ".$site" -name '*.dist-info' -prune -o -type d \( -name tests -o -name test \) -prune \
    -exec rm -rf {} +
)

# 5. The image: the entrypoint, the user, the volume, the labels; one layer, then the archive.
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
"${buildah[@]}" config \
  --os linux --arch amd64 \
  --user "$uid:$uid" --workingdir "$data_dir" --volume "$data_dir" \
  --entrypoint '["quota-sidecar", "serve"]' --cmd '' --stop-signal SIGTERM \
  --env PATH=/usr/local/bin:/usr/bin:/bin --env LANG=C.UTF-8 --env PYTHONDONTWRITEBYTECODE=1 \
  --env "QUOTA_SIDECAR_DATA_DIR=$data_dir" \
  --label "org.opencontainers.image.title=$name" \
  --label "org.opencontainers.image.description=$(sed -n 's/^description = "\(.*\)"$/\1/p' pyproject.toml)" \
  --label "org.opencontainers.image.source=$source_url" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.licenses=MIT" \
  --label "org.opencontainers.image.base.name=debian:$suite (debootstrap minbase)" \
  "$ctr"
"${buildah[@]}" umount "$ctr" >/dev/null
"${buildah[@]}" rmi -f "$image" >/dev/null 2>&1 || true
"${buildah[@]}" commit --quiet --format oci --timestamp "$epoch" --rm "$ctr" "$image" >/dev/null
ctr=""
"${buildah[@]}" rmi --prune >/dev/null 2>&1 || true

mkdir -p "$(dirname "$archive")"
rm -f "$archive" "$archive.inputs"
"${buildah[@]}" push --quiet "$image" "oci-archive:$archive.tmp:$name:$version"
mv "$archive.tmp" "$archive"
echo "$key" >"$archive.inputs"
size=$("${buildah[@]}" images --format '{{.Size}}' "$image")
echo "build_image: $image ($size unpacked, $(du -h "$archive" | cut -f1) archive) -> $archive" >&2
echo "$archive"
