"""clients/java as its users use it: clients/java/build_jar.sh builds the installable jar (the
generated classes, with pom.xml inside) from the committed sources against Debian's
grpc-java; a program in a folder of its own (examples/java/Smoke.java) compiles against that
jar alone with grpc-java's jars, and runs the smoke calls against a real sidecar.
(Maven Central is not reachable here, so the jar is built without Maven; see README.)
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from tests.integration.packages.smoke import ROOT, run_against_sidecar, run_checked, transcript

HINT = "install the toolchains with scripts/ci_install_toolchains.sh (.ci/run does)"
# The program's runtime: grpc-java with its Netty transport, as examples/java/build.sh has it.
RUNTIME = [
    "protobuf", "grpc-api", "grpc-context", "grpc-core", "grpc-stub", "grpc-protobuf",
    "grpc-protobuf-lite", "grpc-netty", "guava", "error_prone_annotations", "perfmark-api",
    "gson", "netty-buffer", "netty-codec", "netty-codec-http", "netty-codec-http2",
    "netty-codec-socks", "netty-common", "netty-handler", "netty-handler-proxy",
    "netty-resolver", "netty-transport", "netty-transport-native-unix-common",
]  # fmt: skip


@pytest.mark.timeout(900)
def test_a_java_program_compiles_against_the_jar_and_runs_the_smoke_calls(
    redis_url: str, tmp_path: Path
) -> None:
    jars = [Path(f"/usr/share/java/{name}.jar") for name in RUNTIME]
    missing = [str(j) for j in jars if not j.exists()]
    missing += [tool for tool in ("javac", "java", "jar") if shutil.which(tool) is None]
    assert not missing, f"java: missing {', '.join(missing)}: {HINT}"
    built = run_checked(["bash", str(ROOT / "clients/java/build_jar.sh"), str(tmp_path / "dist")],
                        cwd=tmp_path)  # fmt: skip
    jar = Path(built.strip().splitlines()[-1])
    with zipfile.ZipFile(jar) as archive:
        names = set(archive.namelist())
    assert "dev/quotasidecar/v1/QuotaServiceGrpc.class" in names
    assert "META-INF/maven/dev.quotasidecar/quota-sidecar-client/pom.xml" in names

    app = tmp_path / "app"  # outside the repository, as a user's program is
    app.mkdir()
    shutil.copy(ROOT / "examples/java/Smoke.java", app / "Smoke.java")
    classpath = ":".join([str(jar), *map(str, jars)])
    run_checked(["javac", "-nowarn", "-d", "classes", "-cp", classpath, "Smoke.java"], cwd=app)
    command = ["java", "-cp", f"{app / 'classes'}:{classpath}", "Smoke"]
    tool, run = run_against_sidecar(command, redis_url, tmp_path, "java")
    assert run.returncode == 0, f"java client failed:\n{run.stdout}\n{run.stderr}"
    assert run.stdout.splitlines() == transcript(tool), run.stderr
