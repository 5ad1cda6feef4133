"""The container image that `make image` builds (scripts/build_image.sh), unpacked from its OCI
archive and run as a container runtime would: the image config's entrypoint, user, environment
and working dir, the root filesystem mounted read-only, each declared volume a writable host
folder, the host's network (so the sidecar answers on 127.0.0.1).

    image = unpack_image(build_image(), tmp_path)        # the archive, then its layers
    with SidecarProcess(*args, command=image.command(volumes={...})) as p: ...

Running needs root (a private mount namespace and chroot), as the build does.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["REPO", "UnpackedImage", "build_image", "unpack_image"]

REPO = Path(__file__).resolve().parents[2]

# In a private mount namespace: the root read-only, /proc and /dev, the volumes writable; then
# the image's user, environment and working dir. Every step execs, so the pid is the sidecar's.
_RUNNER = """
set -e
root=$1; shift
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
while [ "$1" != "--" ]; do mount --bind "$1" "$root$2"; shift 2; done
shift
exec "$@"
"""


def build_image() -> Path:
    """The archive `make image` writes, built now unless it is up to date (then ~0.1 s)."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "build_image.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build_image.sh failed:\n{done.stderr[-4000:]}")
    return REPO / done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class UnpackedImage:
    root: Path
    config: dict[str, Any]  # the OCI image config's "config": Entrypoint, User, Env, Labels...
    annotations: dict[str, str]  # of the archive's index entry (ref.name: what `load` names)
    layer_bytes: int  # the unpacked size of its layers (what `podman images` shows)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.get("Labels") or {})

    def command(self, volumes: dict[str, Path], env: dict[str, str] | None = None) -> list[str]:
        """The argv that runs the image's entrypoint (arguments go after it); `volumes` maps
        each of the image's volume paths to a host folder; `env` adds to the image's (as
        `podman run -e` does)."""
        assert set(volumes) == set(self.config.get("Volumes") or {}), "mount every volume"
        user = self.config["User"]
        uid, _, gid = user.partition(":")
        inner = [
            "chroot",
            f"--userspec={uid}:{gid or uid}",
            f"--groups={gid or uid}",  # not root's supplementary groups
            str(self.root),
            "/usr/bin/env",
            "-i",
            f"--chdir={self.config.get('WorkingDir') or '/'}",
            *self.config.get("Env", []),
            *(f"{name}={value}" for name, value in (env or {}).items()),
            *self.config["Entrypoint"],
            *(self.config.get("Cmd") or []),
        ]
        mounts = [str(part) for path, host in volumes.items() for part in (host, path)]
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            _RUNNER,
            "image-runner",
            str(self.root),
            *mounts,
            "--",
            *inner,
        ]


def _blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/")


def _json(archive: tarfile.TarFile, name: str) -> Any:
    member = archive.extractfile(name)
    assert member is not None, f"{name} missing from the archive"
    return json.loads(member.read())


def unpack_image(archive_path: Path, into: Path) -> UnpackedImage:
    """The image's one manifest, its config, and its layers extracted into `into`/root."""
    root = into / "root"
    root.mkdir(parents=True)
    with tarfile.open(archive_path) as archive:
        (entry,) = _json(archive, "index.json")["manifests"]
        manifest = _json(archive, _blob_name(entry["digest"]))
        config = _json(archive, _blob_name(manifest["config"]["digest"]))
        size = 0
        for layer in manifest["layers"]:
            blob = archive.extractfile(_blob_name(layer["digest"]))
            with tarfile.open(fileobj=blob, mode="r|*") as tar:
                for member in tar:
                    size += member.size
                    tar.extract(member, root, filter="tar")
    return UnpackedImage(root, config["config"], entry.get("annotations", {}), size)
