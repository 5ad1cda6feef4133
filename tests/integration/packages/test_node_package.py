"""clients/node as its users get it: `npm pack` makes the tarball; a TypeScript project of its
own (node_app/: smoke.ts, the transcript of examples/go/main.go) installs that tarball with
npm (its dependencies from the npm registry, as a user's would), type-checks against the
package's types with tsc (strict), and runs the smoke calls against a real sidecar.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.packages.smoke import ROOT, run_against_sidecar, run_checked, transcript

HINT = "the Node.js package needs node and npm (apt-get install nodejs npm)"


@pytest.mark.timeout(900)
def test_a_typescript_project_installs_the_packed_package_and_runs_the_smoke_calls(
    redis_url: str, tmp_path: Path
) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, HINT
    npm_flags = ["--no-audit", "--no-fund", "--loglevel=error"]
    packed = run_checked(
        [npm, "pack", "--pack-destination", str(tmp_path), *npm_flags], cwd=ROOT / "clients/node"
    )
    tarball = tmp_path / packed.strip().splitlines()[-1]
    assert tarball.is_file(), packed

    app = tmp_path / "app"  # outside the repository, as a user's project is
    shutil.copytree(Path(__file__).parent / "node_app", app)
    run_checked([npm, "install", *npm_flags, str(tarball)], cwd=app)
    installed = app / "node_modules" / "quota-sidecar-client"
    assert (installed / "index.d.ts").is_file() and (installed / "gen").is_dir()
    run_checked([str(app / "node_modules/.bin/tsc"), "-p", "."], cwd=app)

    tool, run = run_against_sidecar([node, str(app / "smoke.js")], redis_url, tmp_path, "node")
    assert run.returncode == 0, f"node client failed:\n{run.stdout}\n{run.stderr}"
    assert run.stdout.splitlines() == transcript(tool), run.stderr
