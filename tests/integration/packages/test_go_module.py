"""clients/go as its users use it: a program in a folder of its own imports the module by its
path (github.com/quota-sidecar/quota-sidecar/clients/go), with a `replace` to the local folder,
builds in module mode and runs the smoke calls against a real sidecar.

No Go module proxy is reachable here, so the program's other dependencies (grpc-go and the
protobuf runtime, the versions clients/go/go.mod requires) come from Debian's
/usr/share/gocode as a vendor/ folder (-mod=vendor), written as `go mod vendor` would write it:
with the client module's packages copied from the folder its `replace` names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.packages.smoke import ROOT, run_against_sidecar, run_checked, transcript

MODULE_DIR = ROOT / "clients" / "go"
GOCODE = Path("/usr/share/gocode/src")
HINT = "install the toolchains with scripts/ci_install_toolchains.sh (.ci/run does)"


def module_path(go_mod: Path) -> str:
    return next(
        line.split()[1] for line in go_mod.read_text().splitlines() if line.startswith("module ")
    )


def go_version(go_mod: Path) -> str:
    """The go directive: vendor/modules.txt repeats it, or the package compiles as go 1.16."""
    lines = go_mod.read_text().splitlines()
    return next((line.split()[1] for line in lines if line.startswith("go ")), "1.16")


def module_of(package_dir: Path) -> tuple[str, str]:
    """The module path and go version of a package in /usr/share/gocode: its nearest go.mod's."""
    for folder in [package_dir, *package_dir.parents]:
        if (folder / "go.mod").is_file():
            return module_path(folder / "go.mod"), go_version(folder / "go.mod")
        if folder == GOCODE:
            break
    raise AssertionError(f"no go.mod above {package_dir}")


def required_versions(go_mod: Path) -> dict[str, str]:
    """The `require` block of a go.mod, path -> version."""
    lines = go_mod.read_text().split("require (", 1)[1].split(")", 1)[0].splitlines()
    return dict(line.split()[:2] for line in lines if line.strip())


def dependencies(app: Path, client: str, scratch: Path) -> dict[str, Path]:
    """The non-standard packages the program needs, and where Debian has them (GOPATH mode
    lists them; the client's own packages are left out: they come through the replace)."""
    gopath = scratch / "list-gopath"
    shutil.copytree(app, gopath / "src" / "smoke")
    shutil.copytree(MODULE_DIR, gopath / "src" / client)
    listed = run_checked(
        ["go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}} {{.Dir}}{{end}}", "."],
        cwd=gopath / "src" / "smoke",
        GO111MODULE="off",
        GOPATH=f"{gopath}:/usr/share/gocode",
        GOCACHE=str(scratch / "cache"),
    )
    found = dict(line.split(" ", 1) for line in listed.splitlines() if line.strip())
    return {
        package: Path(folder)
        for package, folder in found.items()
        if package != "smoke" and not package.startswith(client + "/")
    }


def write_vendor(app: Path, client: str, packages: dict[str, Path]) -> None:
    """vendor/ and vendor/modules.txt, and the requirements in go.mod to match them."""
    for package in client_packages():
        folder = MODULE_DIR / package.removeprefix(client + "/")
        packages = {**packages, package: folder}
    pinned = required_versions(MODULE_DIR / "go.mod")  # grpc and protobuf, as the client says
    modules: dict[str, list[str]] = {}
    language = {client: go_version(MODULE_DIR / "go.mod")}
    for package, folder in sorted(packages.items()):
        owner = client
        if not package.startswith(client + "/"):
            owner, language[owner] = module_of(folder)
        modules.setdefault(owner, []).append(package)
        target = app / "vendor" / package
        target.mkdir(parents=True)
        for source in folder.iterdir():
            if source.is_file() and not source.name.endswith("_test.go"):
                shutil.copy(source, target / source.name)
    version = {m: pinned.get(m, "v0.0.0-00010101000000-000000000000") for m in modules}
    lines = [f"# {client} v0.0.0 => {MODULE_DIR}", f"## explicit; go {language[client]}"]
    lines += modules.pop(client)
    for module, listed in sorted(modules.items()):
        lines += [f"# {module} {version[module]}", f"## explicit; go {language[module]}", *listed]
    lines.append(f"# {client} => {MODULE_DIR}")
    (app / "vendor" / "modules.txt").write_text("\n".join(lines) + "\n")
    requires = "".join(f"\t{m} {version[m]}\n" for m in sorted(modules))
    with (app / "go.mod").open("a") as go_mod:
        go_mod.write(f"require (\n{requires})\n")


def client_packages() -> list[str]:
    client = module_path(MODULE_DIR / "go.mod")
    return sorted(
        f"{client}/{d.relative_to(MODULE_DIR).as_posix()}"
        for d in MODULE_DIR.rglob("*")
        if d.is_dir() and any(d.glob("*.go"))
    )


@pytest.mark.timeout(900)
def test_a_go_program_imports_the_module_by_path_and_runs_the_smoke_calls(
    redis_url: str, tmp_path: Path
) -> None:
    missing = [tool for tool in ("go",) if shutil.which(tool) is None]
    assert not missing and GOCODE.joinpath("google.golang.org/grpc").is_dir(), HINT
    client = module_path(MODULE_DIR / "go.mod")
    app = tmp_path / "app"  # outside the repository, as a user's program is
    app.mkdir()
    shutil.copy(ROOT / "examples" / "go" / "main.go", app / "main.go")
    (app / "go.mod").write_text(
        "module example.com/quota-smoke\n\ngo 1.19\n\n"
        f"require {client} v0.0.0\n\nreplace {client} => {MODULE_DIR}\n\n"
    )
    write_vendor(app, client, dependencies(app, client, tmp_path))
    run_checked(
        ["go", "build", "-mod=vendor", "-o", str(tmp_path / "smoke"), "."],
        cwd=app,
        GOFLAGS="-mod=vendor",
        GOPROXY="off",
        GOCACHE=str(tmp_path / "cache"),
        GOPATH=str(tmp_path / "gopath"),
    )
    tool, run = run_against_sidecar([str(tmp_path / "smoke")], redis_url, tmp_path, "go")
    assert run.returncode == 0, f"go client failed:\n{run.stdout}\n{run.stderr}"
    assert run.stdout.splitlines() == transcript(tool), run.stderr
